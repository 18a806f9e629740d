using JitBroker.Policy.Model;

namespace JitBroker.Policy.Conditions;

/// <summary>
/// <c>TimeOfDayBetween</c>: the decision's instant, in <see cref="TimeZone"/>, lies in [start, end). When start is
/// later than end the window spans midnight (22:00-06:00). Daylight-saving shifts are the zone's: the local wall
/// clock is what is compared.
/// </summary>
internal sealed class TimeOfDayClause(SourcePosition position, int startMinute, int endMinute, TimeZoneInfo timeZone)
    : ConditionClause("TimeOfDayBetween", position)
{
    public TimeZoneInfo TimeZone { get; } = timeZone;

    public override ConditionOutcome Evaluate(ref DecisionInput input)
    {
        var local = TimeZoneInfo.ConvertTime(input.Now, TimeZone);
        var minute = (local.Hour * 60) + local.Minute;
        var inside = startMinute < endMinute
            ? minute >= startMinute && minute < endMinute
            : minute >= startMinute || minute < endMinute;
        return inside ? ConditionOutcome.Met : ConditionOutcome.NotMet;
    }

    public override string Describe() => $"TimeOfDayBetween {Hhmm(startMinute)}-{Hhmm(endMinute)} {TimeZone.Id}";

    public override string Observed(ref DecisionInput input) =>
        $"local time {TimeZoneInfo.ConvertTime(input.Now, TimeZone):yyyy-MM-dd HH:mm ddd} {TimeZone.Id}";

    internal static string Hhmm(int minute) => $"{minute / 60:00}:{minute % 60:00}";
}

/// <summary><c>Weekday</c>: the decision's local day, in <see cref="TimeZone"/>, is one of the listed days.</summary>
internal sealed class WeekdayClause(SourcePosition position, IReadOnlyCollection<DayOfWeek> days, TimeZoneInfo timeZone)
    : ConditionClause("Weekday", position)
{
    private readonly int _dayMask = days.Aggregate(0, (mask, day) => mask | (1 << (int)day));

    public TimeZoneInfo TimeZone { get; } = timeZone;

    public override ConditionOutcome Evaluate(ref DecisionInput input)
    {
        var day = TimeZoneInfo.ConvertTime(input.Now, TimeZone).DayOfWeek;
        return (_dayMask & (1 << (int)day)) != 0 ? ConditionOutcome.Met : ConditionOutcome.NotMet;
    }

    public override string Describe() =>
        $"Weekday [{string.Join(", ", Enum.GetValues<DayOfWeek>().Where(d => (_dayMask & (1 << (int)d)) != 0).Select(d => d.ToString()[..3].ToLowerInvariant()))}] {TimeZone.Id}";

    public override string Observed(ref DecisionInput input) =>
        $"local day {TimeZoneInfo.ConvertTime(input.Now, TimeZone):ddd yyyy-MM-dd} {TimeZone.Id}";
}
