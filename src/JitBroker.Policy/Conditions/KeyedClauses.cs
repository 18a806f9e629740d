using JitBroker.Policy.Model;
using JitBroker.Core;

namespace JitBroker.Policy.Conditions;

/// <summary>How a string clause compares.</summary>
internal enum StringComparisonMode
{
    Equals,
    NotEquals,
    Like,
    NotLike,
}

/// <summary>
/// <c>StringEquals</c>, <c>StringNotEquals</c>, <c>StringLike</c>, <c>StringNotLike</c>: ordinal and
/// case-sensitive. A list means any-of for the positive operators and none-of for the negated ones (as in IAM).
/// </summary>
internal sealed class StringClause : ConditionClause
{
    private readonly ConditionKey _key;
    private readonly string[] _values;
    private readonly GlobPattern[] _globs;
    private readonly StringComparisonMode _mode;

    public StringClause(string op, SourcePosition position, ConditionKey key, StringComparisonMode mode, IReadOnlyList<string> values)
        : base(op, position)
    {
        _key = key;
        _mode = mode;
        _values = [.. values];
        _globs = mode is StringComparisonMode.Like or StringComparisonMode.NotLike ? [.. values.Select(GlobPattern.Parse)] : [];
    }

    public override ConditionOutcome Evaluate(ref DecisionInput input)
    {
        if (!_key.TryGet(ref input, out var value))
        {
            return ConditionOutcome.Indeterminate;
        }

        var any = _mode is StringComparisonMode.Equals or StringComparisonMode.NotEquals ? AnyEqual(value) : AnyLike(value);
        var met = _mode is StringComparisonMode.Equals or StringComparisonMode.Like ? any : !any;
        return met ? ConditionOutcome.Met : ConditionOutcome.NotMet;
    }

    public override ConditionKey Key => _key;

    public override string Describe() => $"{_key} {Operator} {ClauseText.List(_values)}";

    public override string Observed(ref DecisionInput input) => ClauseText.Observed(_key, ref input);

    private bool AnyEqual(string value)
    {
        foreach (var candidate in _values)
        {
            if (string.Equals(candidate, value, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private bool AnyLike(string value)
    {
        foreach (var glob in _globs)
        {
            if (glob.IsMatch(value))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>How a numeric clause compares the request's value (left) with the policy's (right).</summary>
internal enum NumericComparison
{
    Equals,
    NotEquals,
    LessThan,
    LessThanEquals,
    GreaterThan,
    GreaterThanEquals,
}

/// <summary>
/// <c>Numeric*</c>: the key's value must be a plain decimal number, or the clause is indeterminate (never an
/// exception, never a string comparison). A list means any-of (none-of for <c>NumericNotEquals</c>).
/// </summary>
internal sealed class NumericClause(string op, SourcePosition position, ConditionKey key, NumericComparison comparison, IReadOnlyList<decimal> values)
    : ConditionClause(op, position)
{
    private readonly decimal[] _values = [.. values];

    public override ConditionOutcome Evaluate(ref DecisionInput input)
    {
        if (!key.TryGetNumber(ref input, out var number))
        {
            return ConditionOutcome.Indeterminate;
        }

        var any = false;
        foreach (var value in _values)
        {
            if (comparison == NumericComparison.NotEquals ? number == value : Compare(number, value))
            {
                any = true;
                break;
            }
        }

        var met = comparison == NumericComparison.NotEquals ? !any : any;
        return met ? ConditionOutcome.Met : ConditionOutcome.NotMet;
    }

    public override ConditionKey Key => key;

    public override string Describe() => $"{key} {Operator} {ClauseText.List(_values.Select(ConditionValues.Format))}";

    public override string Observed(ref DecisionInput input) => ClauseText.Observed(key, ref input);

    private bool Compare(decimal left, decimal right) => comparison switch
    {
        NumericComparison.Equals => left == right,
        NumericComparison.LessThan => left < right,
        NumericComparison.LessThanEquals => left <= right,
        NumericComparison.GreaterThan => left > right,
        _ => left >= right,
    };
}

/// <summary><c>Bool</c>: the key's value must be <c>true</c> or <c>false</c> (any letter case), else indeterminate.</summary>
internal sealed class BoolClause(SourcePosition position, ConditionKey key, bool expected) : ConditionClause("Bool", position)
{
    public override ConditionOutcome Evaluate(ref DecisionInput input) =>
        !key.TryGet(ref input, out var text) || !ConditionValues.TryParseBool(text, out var value) ? ConditionOutcome.Indeterminate
        : value == expected ? ConditionOutcome.Met
        : ConditionOutcome.NotMet;

    public override ConditionKey Key => key;

    public override string Describe() => $"{key} Bool {(expected ? "true" : "false")}";

    public override string Observed(ref DecisionInput input) => ClauseText.Observed(key, ref input);
}

internal static class ClauseText
{
    public static string List(IEnumerable<string> values)
    {
        var quoted = values.Select(v => $"'{v}'").ToList();
        return quoted.Count == 1 ? quoted[0] : $"[{string.Join(", ", quoted)}]";
    }

    public static string Observed(ConditionKey key, ref DecisionInput input) =>
        key.TryGet(ref input, out var value) ? $"{key} = '{value}'" : $"{key} is missing";
}
