using JitBroker.Policy.Model;

namespace JitBroker.Policy.Conditions;

/// <summary>
/// One typed test of a condition block: an operator, what it reads and the values it compares with. Compiled
/// at load, immutable, evaluated without allocating (except where a key's value must be formatted).
/// </summary>
internal abstract class ConditionClause(string op, SourcePosition position)
{
    /// <summary>The operator as written, for example <c>NumericLessThan</c>.</summary>
    public string Operator { get; } = op;

    public SourcePosition Position { get; } = position;

    /// <summary>The key the clause reads; null for clauses that read only the clock.</summary>
    public virtual ConditionKey? Key => null;

    public abstract ConditionOutcome Evaluate(ref DecisionInput input);

    /// <summary>The clause in one line, for explanations: <c>context.risk NumericLessThan 5</c>.</summary>
    public abstract string Describe();

    /// <summary>What the clause saw in this decision, for explanations (never used to decide).</summary>
    public abstract string Observed(ref DecisionInput input);
}

/// <summary>All clauses of one rule; they AND together.</summary>
internal sealed class ConditionSet(IReadOnlyList<ConditionClause> clauses)
{
    public static readonly ConditionSet None = new([]);

    private readonly ConditionClause[] _clauses = [.. clauses];

    public IReadOnlyList<ConditionClause> Clauses => _clauses;

    public bool IsEmpty => _clauses.Length == 0;

    /// <summary>Kleene AND: NotMet if any clause is not met, else Indeterminate if any is, else Met.</summary>
    public ConditionOutcome Evaluate(ref DecisionInput input)
    {
        var result = ConditionOutcome.Met;
        foreach (var clause in _clauses)
        {
            switch (clause.Evaluate(ref input))
            {
                case ConditionOutcome.NotMet:
                    return ConditionOutcome.NotMet;
                case ConditionOutcome.Indeterminate:
                    result = ConditionOutcome.Indeterminate;
                    break;
            }
        }

        return result;
    }
}
