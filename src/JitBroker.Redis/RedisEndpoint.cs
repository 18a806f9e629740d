using System.Globalization;

namespace JitBroker.Redis;

/// <summary>A host and port, written <c>host:port</c> (IPv6 as <c>[::1]:6379</c>).</summary>
public readonly record struct RedisEndpoint(string Host, int Port)
{
    public const int DefaultPort = 6379;

    public static bool TryParse(string? text, out RedisEndpoint endpoint)
    {
        endpoint = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        string host;
        string? port;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return false;
            }

            host = text[1..close];
            port = close + 1 < text.Length && text[close + 1] == ':' ? text[(close + 2)..] : null;
        }
        else
        {
            var colon = text.LastIndexOf(':');
            host = colon < 0 ? text : text[..colon];
            port = colon < 0 ? null : text[(colon + 1)..];
        }

        var number = DefaultPort;
        if (host.Length == 0 || (port is not null && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out number) || number is < 1 or > 65535)))
        {
            return false;
        }

        endpoint = new RedisEndpoint(host, number);
        return true;
    }

    public static RedisEndpoint Parse(string text) =>
        TryParse(text, out var endpoint) ? endpoint : throw new FormatException($"'{text}' is not a host:port endpoint.");

    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
