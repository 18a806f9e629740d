using System.CommandLine;
using JitBroker.Attestation;

namespace JitBroker.Cli;

/// <summary>
/// DEVELOPMENT ONLY: mints a JWT-SVID from the embedded profile's local dev trust domain, so demos and
/// tests have an agent identity without a SPIRE server. A production broker refuses to trust this domain.
/// </summary>
internal static class DevSvidCommand
{
    public static Command Create()
    {
        var spiffeId = new Option<string>("--spiffe-id") { Description = $"Agent SPIFFE ID in spiffe://{DevTrustDomain.Name}/…", Required = true };
        var audience = new Option<string>("--audience") { Description = "Audience (the broker's).", DefaultValueFactory = _ => "jitbroker" };
        var ttl = new Option<int>("--ttl") { Description = "Lifetime in seconds.", DefaultValueFactory = _ => 300 };
        var dataDir = new Option<string>("--data-dir")
        {
            Description = "The broker's data directory (env JITBROKER__DATADIRECTORY).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("JITBROKER__DATADIRECTORY") ?? ".jitbroker",
        };
        var command = new Command("dev-svid", "DEV ONLY: mint a JWT-SVID from the embedded dev trust domain.") { spiffeId, audience, ttl, dataDir };
        command.SetAction(result =>
        {
            var directory = Path.Combine(result.GetValue(dataDir)!, "dev-trust-domain");
            if (!Directory.Exists(directory))
            {
                Console.Error.WriteLine($"error: no dev trust domain in '{directory}'; start the broker in the embedded profile first.");
                return ExitCodes.Usage;
            }

            try
            {
                var dev = DevTrustDomain.LoadOrCreate(directory, TimeProvider.System);
                Console.Error.WriteLine("DEV ONLY: JWT-SVID from the local development trust domain; never trusted in production.");
                Console.WriteLine(dev.MintSvid(result.GetValue(spiffeId)!, result.GetValue(audience)!, TimeSpan.FromSeconds(result.GetValue(ttl))));
                return ExitCodes.Ok;
            }
            catch (ArgumentException ex)
            {
                Console.Error.WriteLine("error: " + ex.Message);
                return ExitCodes.Usage;
            }
        });
        return command;
    }
}
