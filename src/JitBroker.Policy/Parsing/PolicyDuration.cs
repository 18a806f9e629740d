namespace JitBroker.Policy.Parsing;

/// <summary>
/// Durations in policy: a whole number followed by one unit, <c>s</c>, <c>m</c> or <c>h</c> (<c>30s</c>,
/// <c>10m</c>, <c>1h</c>). Nothing else — no fractions, no compound forms, no ISO 8601 — so a value reads the
/// same to every reviewer. Capped at <see cref="Max"/>: a credential living longer is not just-in-time.
/// </summary>
internal static class PolicyDuration
{
    public static readonly TimeSpan Max = TimeSpan.FromHours(24);

    /// <summary>Parses a positive duration of at most <see cref="Max"/>, or explains what is wrong.</summary>
    public static bool TryParse(string text, string field, out TimeSpan duration, out string? error)
    {
        duration = default;
        var digits = text.Length - 1;

        // Nine digits is far beyond 24h in any unit and keeps the arithmetic below overflow-free.
        if (digits is < 1 or > 9 || text.AsSpan(0, digits).ContainsAnyExceptInRange('0', '9') || text[^1] is not ('s' or 'm' or 'h'))
        {
            error = $"{field} '{text}' is not a duration: write a whole number followed by s, m or h (for example 30s, 10m, 1h)";
            return false;
        }

        var amount = long.Parse(text.AsSpan(0, digits), System.Globalization.CultureInfo.InvariantCulture);
        var seconds = text[^1] switch
        {
            's' => amount,
            'm' => amount * 60,
            _ => amount * 3600,
        };
        if (seconds == 0)
        {
            error = $"{field} must be greater than zero";
            return false;
        }

        if (seconds > (long)Max.TotalSeconds)
        {
            error = $"{field} '{text}' exceeds the limit of {(int)Max.TotalHours}h";
            return false;
        }

        duration = TimeSpan.FromSeconds(seconds);
        error = null;
        return true;
    }

    /// <summary>Formats a duration the way policy writes it, for reasons shown to callers.</summary>
    public static string Format(TimeSpan duration) =>
        duration.TotalSeconds % 3600 == 0 ? $"{(long)duration.TotalHours}h"
        : duration.TotalSeconds % 60 == 0 ? $"{(long)duration.TotalMinutes}m"
        : $"{(long)duration.TotalSeconds}s";
}
