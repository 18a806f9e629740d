using System.Buffers;
using System.Globalization;
using JitBroker.Policy.Conditions;
using YamlDotNet.RepresentationModel;
using JitBroker.Core;

namespace JitBroker.Policy.Parsing;

/// <summary>
/// Reads a rule's <c>conditions</c> block, IAM style: <c>Operator: { key: value-or-list }</c>, plus the two time
/// operators whose operand is the clock. Values are typed at load (a number where a number belongs), so a
/// condition can only ever fail at decision time because of the request, never because of the policy.
/// </summary>
internal static class ConditionReader
{
    public const int MaxClauses = 32;
    public const int MaxValues = 64;

    private static readonly Dictionary<string, StringComparisonMode> StringOperators = new(StringComparer.Ordinal)
    {
        ["StringEquals"] = StringComparisonMode.Equals,
        ["StringNotEquals"] = StringComparisonMode.NotEquals,
        ["StringLike"] = StringComparisonMode.Like,
        ["StringNotLike"] = StringComparisonMode.NotLike,
    };

    private static readonly Dictionary<string, NumericComparison> NumericOperators = new(StringComparer.Ordinal)
    {
        ["NumericEquals"] = NumericComparison.Equals,
        ["NumericNotEquals"] = NumericComparison.NotEquals,
        ["NumericLessThan"] = NumericComparison.LessThan,
        ["NumericLessThanEquals"] = NumericComparison.LessThanEquals,
        ["NumericGreaterThan"] = NumericComparison.GreaterThan,
        ["NumericGreaterThanEquals"] = NumericComparison.GreaterThanEquals,
    };

    private static readonly string[] Operators =
        [.. StringOperators.Keys, .. NumericOperators.Keys, "Bool", "TimeOfDayBetween", "Weekday"];

    private static readonly string[] TimeOfDayKeys = ["between", "time_zone"];
    private static readonly string[] WeekdayKeys = ["days", "time_zone"];

    private static readonly string[] DayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    private static readonly SearchValues<char> TimeZoneChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-/");

    public static ConditionSet Read(PolicyErrors errors, YamlNode node, string owner)
    {
        var block = YamlMapping.Of(errors, node, $"{owner}: conditions");
        block.RejectUnknownKeys($"{owner} conditions", Operators);
        if (block.Entries.Count == 0)
        {
            throw errors.At(node, $"{owner}: conditions must name at least one operator (omit the block for none)");
        }

        var clauses = new List<ConditionClause>();
        foreach (var (op, _, value) in block.Entries)
        {
            var field = $"{owner}: conditions.{op}";
            switch (op)
            {
                case "TimeOfDayBetween":
                    clauses.Add(ReadTimeOfDay(errors, value, field));
                    break;
                case "Weekday":
                    clauses.Add(ReadWeekday(errors, value, field));
                    break;
                default:
                    clauses.AddRange(ReadKeyed(errors, op, value, field));
                    break;
            }

            if (clauses.Count > MaxClauses)
            {
                throw errors.At(node, $"{owner}: conditions may hold at most {MaxClauses} tests");
            }
        }

        return new ConditionSet(clauses);
    }

    private static IEnumerable<ConditionClause> ReadKeyed(PolicyErrors errors, string op, YamlNode node, string field)
    {
        var tests = YamlMapping.Of(errors, node, field);
        if (tests.Entries.Count == 0)
        {
            throw errors.At(node, $"{field} must name at least one key");
        }

        foreach (var (keyText, keyNode, valueNode) in tests.Entries)
        {
            if (!ConditionKey.TryParse(keyText, out var key, out var problem))
            {
                throw errors.At(keyNode, $"{field}: {problem}");
            }

            var valueField = $"{field}.{keyText}";
            var position = errors.PositionOf(keyNode);
            if (StringOperators.TryGetValue(op, out var mode))
            {
                var values = YamlNodes.ReadOneOrMany(errors, valueNode, valueField, MaxValues)
                    .Select(v => ReadStringValue(errors, v, valueField, mode is StringComparisonMode.Like or StringComparisonMode.NotLike))
                    .ToList();
                yield return new StringClause(op, position, key, mode, values);
            }
            else if (NumericOperators.TryGetValue(op, out var comparison))
            {
                var values = YamlNodes.ReadOneOrMany(errors, valueNode, valueField, MaxValues)
                    .Select(v => YamlNodes.ReadNumber(errors, v, valueField))
                    .ToList();
                yield return new NumericClause(op, position, key, comparison, values);
            }
            else
            {
                yield return new BoolClause(position, key, YamlNodes.ReadBool(errors, valueNode, valueField));
            }
        }
    }

    private static string ReadStringValue(PolicyErrors errors, YamlNode node, string field, bool isGlob)
    {
        var text = YamlNodes.ReadString(errors, node, $"every value of {field}");
        if (isGlob && !GlobPattern.TryParse(text, out _, out var problem))
        {
            throw errors.At(node, $"{field}: {problem}");
        }

        return text;
    }

    private static TimeOfDayClause ReadTimeOfDay(PolicyErrors errors, YamlNode node, string field)
    {
        var block = YamlMapping.Of(errors, node, field);
        block.RejectUnknownKeys(field, TimeOfDayKeys);
        var betweenNode = block.Require("between", field);
        var bounds = YamlNodes.ReadStringList(errors, betweenNode, $"{field}.between");
        if (bounds.Count != 2)
        {
            throw errors.At(betweenNode, $"{field}.between must be two times [\"HH:MM\", \"HH:MM\"]");
        }

        var start = ReadClockTime(errors, bounds[0], $"{field}.between", allowEndOfDay: false);
        var end = ReadClockTime(errors, bounds[1], $"{field}.between", allowEndOfDay: true);
        if (start == end || (start == 0 && end == 24 * 60))
        {
            throw errors.At(betweenNode, $"{field}.between {bounds[0].Value}-{bounds[1].Value} is empty or the whole day; remove the condition or narrow it");
        }

        var timeZone = ReadTimeZone(errors, block.Require("time_zone", field), field);
        return new TimeOfDayClause(errors.PositionOf(node), start, end % (24 * 60), timeZone);
    }

    private static WeekdayClause ReadWeekday(PolicyErrors errors, YamlNode node, string field)
    {
        var block = YamlMapping.Of(errors, node, field);
        block.RejectUnknownKeys(field, WeekdayKeys);
        var daysNode = block.Require("days", field);
        var entries = YamlNodes.ReadStringList(errors, daysNode, $"{field}.days");
        if (entries.Count == 0)
        {
            throw errors.At(daysNode, $"{field}.days must name at least one day");
        }

        var days = new HashSet<DayOfWeek>();
        foreach (var (text, dayNode) in entries)
        {
            // DayNames is indexed like DayOfWeek (Sunday = 0); full English names are accepted too, in any letter case.
            var index = Array.FindIndex(Enum.GetValues<DayOfWeek>(), d =>
                string.Equals(text, DayNames[(int)d], StringComparison.OrdinalIgnoreCase) ||
                string.Equals(text, d.ToString(), StringComparison.OrdinalIgnoreCase));
            if (index < 0)
            {
                throw errors.At(dayNode, $"{field}.days: '{text}' is not a day; write mon, tue, wed, thu, fri, sat or sun");
            }

            if (!days.Add((DayOfWeek)index))
            {
                throw errors.At(dayNode, $"{field}.days: '{text}' is listed twice");
            }
        }

        var timeZone = ReadTimeZone(errors, block.Require("time_zone", field), field);
        return new WeekdayClause(errors.PositionOf(node), days, timeZone);
    }

    private static int ReadClockTime(PolicyErrors errors, (string Value, YamlNode Node) entry, string field, bool allowEndOfDay)
    {
        var text = entry.Value;
        if (text.Length == 5 && text[2] == ':' &&
            int.TryParse(text.AsSpan(0, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var hours) &&
            int.TryParse(text.AsSpan(3, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var minutes) &&
            minutes < 60 && (hours < 24 || (allowEndOfDay && hours == 24 && minutes == 0)))
        {
            return (hours * 60) + minutes;
        }

        throw errors.At(entry.Node, $"{field}: '{text}' is not a time of day; write HH:MM from 00:00 to 23:59 (24:00 as an end)");
    }

    private static TimeZoneInfo ReadTimeZone(PolicyErrors errors, YamlNode node, string field)
    {
        var id = YamlNodes.ReadString(errors, node, $"{field}.time_zone");

        // The id becomes a path under the zoneinfo directory; only plain IANA names get that far.
        if (id.Length is 0 or > 64 || id.AsSpan().IndexOfAnyExcept(TimeZoneChars) >= 0 || id.Split('/').Any(s => s.Length == 0 || s.StartsWith('.')))
        {
            throw errors.At(node, $"{field}.time_zone '{id}' is not an IANA time zone name (for example Europe/Berlin or UTC)");
        }

        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw errors.At(node, $"{field}.time_zone '{id}' is not a time zone this system knows (IANA names such as Europe/Berlin)");
        }
    }
}
