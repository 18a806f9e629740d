using System.Globalization;
using System.Text.RegularExpressions;

namespace JitBroker.WebConsole;

/// <summary>One way to write a time on every console page: <c>2026-12-03 11:32:42 UTC</c>.</summary>
public static partial class ConsoleTime
{
    public static string Format(DateTimeOffset? at) =>
        at is { } t ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) : "—";

    /// <summary>An audit record's ISO 8601 time in the console's format; text that does not parse is shown as it is.</summary>
    public static string Format(string recorded) =>
        DateTimeOffset.TryParse(recorded, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at) ? Format(at) : recorded;

    /// <summary>Every ISO 8601 time inside a text (an audit detail shared with <c>jitctl</c>) rewritten in the console's format.</summary>
    public static string InText(string text) => IsoTime().Replace(text, m => Format(m.Value));

    [GeneratedRegex(@"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")]
    private static partial Regex IsoTime();
}
