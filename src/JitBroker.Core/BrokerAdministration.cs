namespace JitBroker.Core;

// The admin API's vocabulary; its use cases are the handlers in Handlers/ (AdminAuthorization, RevokeLeasesHandler,
// KillSwitchHandler, ApprovalDecisionHandler, ListLeasesHandler).

/// <summary>Which leases an operator's revocation targets.</summary>
public abstract record RevokeSelector
{
    private RevokeSelector()
    {
    }

    public sealed record Lease(string LeaseId) : RevokeSelector;

    /// <summary>A task's leases; with no agent, that task id across every agent (task ids are agent-chosen).</summary>
    public sealed record Task(string? AgentId, string TaskId) : RevokeSelector;

    public sealed record Agent(string AgentId) : RevokeSelector;

    /// <summary>Fleet-wide: every agent whose id matches the glob. Needs confirmation.</summary>
    public sealed record AgentPattern(string Pattern) : RevokeSelector;

    /// <summary>Everything. Needs confirmation.</summary>
    public sealed record All : RevokeSelector;

    public bool IsBroad => this is AgentPattern or All;
}

/// <summary>
/// What a bulk revocation scheduled. The revoking itself is done by the sweepers of every replica; follow it with
/// <see cref="Handlers.RevokeLeasesHandler.GetProgressAsync"/> and <see cref="BatchId"/>.
/// </summary>
public sealed record RevokeSummary(string BatchId, long Scheduled, long InProgress, long AlreadyRevoked)
{
    /// <summary>Leases the selector (and delegation) reached, revoked ones included.</summary>
    public long Matched => Scheduled + InProgress + AlreadyRevoked;

    /// <summary>Leases the batch waits for.</summary>
    public long Pending => Scheduled + InProgress;
}

/// <summary>Who may use the admin API: attested principals matching one of these globs. Agents never.</summary>
public sealed class AdminOptions
{
    public List<string> Principals { get; set; } = [];

    public IEnumerable<string> Validate()
    {
        foreach (var p in Principals)
        {
            // The same anchoring rule as a policy's approvers: '*', '**' or 'https://*.example/…' would make agents operators.
            if ((GlobPattern.TryParse(p, out _, out var error) ? GlobPattern.AnchorProblem(p) : error) is { } problem)
            {
                yield return $"Admin:Principals '{p}': {problem}.";
            }
        }
    }
}
