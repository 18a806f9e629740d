using System.Globalization;

namespace JitBroker.Wire;

/// <summary>
/// <c>grpc-timeout</c> (PROTOCOL-HTTP2.md): TimeoutValue = positive integer of at most 8 ASCII digits,
/// TimeoutUnit = H | M | S | m | u | n.
/// </summary>
internal static class GrpcTimeout
{
    private const long MaxValue = 99_999_999;

    /// <summary>
    /// Parses a header value. Anything else than digits followed by one unit letter is malformed. Zero is
    /// accepted (as an already expired deadline) to be liberal with senders that round down.
    /// </summary>
    public static bool TryParse(string? header, out TimeSpan timeout)
    {
        timeout = default;
        if (header is null || header.Length is < 2 or > 9)
        {
            return false;
        }

        long value = 0;
        for (var i = 0; i < header.Length - 1; i++)
        {
            var c = header[i];
            if (c is < '0' or > '9')
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        // At most 99,999,999 H = 3.6e18 ticks: fits in a long, so no unit below can overflow.
        long? ticks = header[^1] switch
        {
            'H' => value * TimeSpan.TicksPerHour,
            'M' => value * TimeSpan.TicksPerMinute,
            'S' => value * TimeSpan.TicksPerSecond,
            'm' => value * TimeSpan.TicksPerMillisecond,
            'u' => value * TimeSpan.TicksPerMicrosecond,
            'n' => (value + 99) / 100, // 100 ns per tick; round up so a tiny timeout is not zero
            _ => null,
        };
        if (ticks is null)
        {
            return false;
        }

        timeout = TimeSpan.FromTicks(ticks.Value);
        return true;
    }

    /// <summary>Encodes a remaining time, rounding up, in the finest unit that fits in 8 digits.</summary>
    public static string Encode(TimeSpan timeout)
    {
        var ticks = Math.Max(timeout.Ticks, 1);
        var micros = CeilDiv(ticks, TimeSpan.TicksPerMicrosecond);
        if (micros <= MaxValue)
        {
            return micros.ToString(CultureInfo.InvariantCulture) + "u";
        }

        foreach (var (unitTicks, unit) in Units)
        {
            var value = CeilDiv(ticks, unitTicks);
            if (value <= MaxValue)
            {
                return value.ToString(CultureInfo.InvariantCulture) + unit;
            }
        }

        return MaxValue.ToString(CultureInfo.InvariantCulture) + "H";
    }

    private static readonly (long Ticks, string Unit)[] Units =
    [
        (TimeSpan.TicksPerMillisecond, "m"),
        (TimeSpan.TicksPerSecond, "S"),
        (TimeSpan.TicksPerMinute, "M"),
        (TimeSpan.TicksPerHour, "H"),
    ];

    private static long CeilDiv(long value, long divisor) => (value / divisor) + (value % divisor == 0 ? 0 : 1);
}
