using System.Net;

namespace JitBroker.Server;

/// <summary>
/// Where the web console may be served (docs/console.md "Listener"): browsers speak HTTP/1.1, and Kestrel cannot serve
/// HTTP/1.1 and prior-knowledge h2c gRPC on one cleartext port. So the console lives on the admin listener when it has a
/// certificate (HTTP/1.1 and HTTP/2 chosen by ALPN; the production shape), and otherwise — embedded only — on its own
/// loopback HTTP/1.1 port, <c>Listen:Console</c>.
/// </summary>
internal static class ConsoleListenerRules
{
    public static IEnumerable<string> Validate(JitBrokerSettings s)
    {
        foreach (var error in s.Console.Validate(s.IsEmbedded))
        {
            yield return "JitBroker:" + error;
        }

        var listen = s.Listen;
        if (listen.Console is { } console)
        {
            if (!s.IsEmbedded)
            {
                yield return "JitBroker:Listen:Console is for the embedded profile only: a production console is served over TLS on the admin listener (Listen:AdminCertificatePath).";
            }
            else if (!IsLoopback(console))
            {
                yield return $"JitBroker:Listen:Console ({console}) must be a loopback address: it is cleartext HTTP.";
            }

            if (!s.Console.Enabled)
            {
                yield return "JitBroker:Listen:Console is set but JitBroker:Console:Enabled is false.";
            }

            if (listen.AdminCertificatePath is not null)
            {
                yield return "JitBroker:Listen:Console must not be set when the admin listener has a certificate: the console is served there.";
            }
        }
        else if (s.Console.Enabled && listen.AdminCertificatePath is null)
        {
            yield return s.IsEmbedded
                ? "JitBroker:Console:Enabled needs Listen:AdminCertificatePath (the console shares the TLS admin listener) or, embedded, a loopback Listen:Console."
                : "JitBroker:Console:Enabled needs Listen:AdminCertificatePath: a production console is served over TLS on the admin listener.";
        }
    }

    /// <summary>True when the console listens on the admin listener (it has a certificate and the console is on).</summary>
    public static bool OnAdmin(JitBrokerSettings s) => s.Console.Enabled && s.Listen.AdminCertificatePath is not null;

    private static bool IsLoopback(string address)
    {
        try
        {
            var endpoint = SettingsValidator.ParseEndpoint(address);
            return IPAddress.IsLoopback(endpoint.Address);
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
