using System.Collections.Concurrent;

namespace JitBroker.Core.Handlers;

/// <summary>
/// Step 3's quotas on the request path: an agent's request rate (globally before policy decides, then the deciding
/// rule's own), its concurrent approval waits, and the one place a quota refusal is counted (every time, in
/// <c>jitbroker.quota.refusals</c>) and audited (once per agent, reason and <see cref="QuotaOptions.AuditWindow"/>, the
/// record naming how many refusals the previous window held back) — a looping agent must not turn its own refusals into
/// an audit flood. The active-lease caps are enforced by the lease store itself, atomically; their refusals come here too.
/// </summary>
public sealed class QuotaGuard
{
    private readonly AgentRateLimiter _rates;
    private readonly BestEffortAudit _audit;
    private readonly BrokerMetrics _metrics;
    private readonly BrokerOptions _broker;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<(string Agent, string Reason), AuditWindow> _windows = new();
    private readonly ConcurrentDictionary<string, int> _waitsByAgent = new(StringComparer.Ordinal);
    private int _waits;

    public QuotaGuard(AgentRateLimiter rates, BestEffortAudit audit, BrokerMetrics metrics, BrokerOptions options, TimeProvider time)
    {
        _rates = rates;
        _audit = audit;
        _metrics = metrics;
        _broker = options;
        _time = time;
    }

    private QuotaOptions Options => _broker.Quotas;

    /// <summary>The broker-wide per-agent limits (<see cref="QuotaOptions"/>).</summary>
    public QuotaLimits Global => Options.Limits;

    /// <summary>The limits for a request the rule(s) in <paramref name="decision"/> decided: global tightened by the rule's.</summary>
    public QuotaLimits For(PolicyDecision decision) => Global.Tighten(decision.Quota);

    /// <summary>
    /// Takes a token from the agent's bucket (<paramref name="ruleId"/>: the rule's own bucket). Refuses with
    /// ResourceExhausted, <see cref="Reasons.Quota.RateExceeded"/> and a retry hint when it is empty; counted and audited.
    /// </summary>
    public async Task CheckRateAsync(WorkloadIdentity agent, string? taskId, QuotaLimits limits, string? ruleId = null,
        CancellationToken cancellationToken = default)
    {
        if (limits.RatePerSecond is not { } rate)
        {
            return;
        }

        var burst = limits.Burst ?? Math.Max(1, (int)Math.Ceiling(rate));
        var key = ruleId is null ? agent.Id : agent.Id + "\n" + ruleId;
        if (_rates.TryTake(key, rate, burst) is { } wait)
        {
            var refusal = new BrokerException(BrokerFailure.ResourceExhausted, Reasons.Quota.RateExceeded,
                $"Too many requests from this agent{(ruleId is null ? "" : $" under rule {ruleId}")} ({rate:0.###}/s, burst {burst}); retry after {wait.TotalMilliseconds:0} ms.")
            {
                RetryAfter = wait,
            };
            await RecordAsync(agent, taskId, refusal, cancellationToken).ConfigureAwait(false);
            throw refusal;
        }
    }

    /// <summary>
    /// Holds one of the agent's (and the replica's) approval waits until disposed; refuses with ResourceExhausted and
    /// <see cref="Reasons.Quota.ApprovalWaits"/> when either is at its cap (counted and audited).
    /// </summary>
    public async Task<IDisposable> EnterApprovalWaitAsync(WorkloadIdentity agent, string? taskId, QuotaLimits limits,
        CancellationToken cancellationToken = default)
    {
        var perAgent = limits.MaxApprovalWaitsPerAgent ?? int.MaxValue;
        if (Interlocked.Increment(ref _waits) > Options.MaxApprovalWaits)
        {
            Interlocked.Decrement(ref _waits);
            await RefuseWaitAsync(agent, taskId, $"this broker already holds its maximum of {Options.MaxApprovalWaits} approval waits", cancellationToken).ConfigureAwait(false);
        }

        if (_waitsByAgent.AddOrUpdate(agent.Id, 1, (_, n) => n + 1) > perAgent)
        {
            LeaveWait(agent.Id);
            await RefuseWaitAsync(agent, taskId, $"this agent already has its maximum of {perAgent} approval waits", cancellationToken).ConfigureAwait(false);
        }

        return new WaitSlot(this, agent.Id);
    }

    /// <summary>Counts a quota refusal and audits it unless this agent's refusal for the same reason was audited within the window.</summary>
    public async Task RecordAsync(WorkloadIdentity agent, string? taskId, BrokerException refusal, CancellationToken cancellationToken = default)
    {
        _metrics.QuotaRefused(refusal.Reason);
        var now = _time.GetUtcNow();
        var window = _windows.GetOrAdd((agent.Id, refusal.Reason), _ => new AuditWindow());
        long heldBack;
        lock (window)
        {
            if (window.OpenedAt is { } opened && now < opened + Options.AuditWindow)
            {
                window.HeldBack++;
                return;
            }

            heldBack = window.HeldBack;
            window.OpenedAt = now;
            window.HeldBack = 0;
        }

        ForgetClosedWindows(now);
        await _audit.RecordAsync(new AuditEvent
        {
            Type = AuditEventTypes.RequestDenied, AgentId = agent.Id, TaskId = taskId, Decision = "deny", Reason = refusal.Reason,
            Detail = heldBack == 0
                ? refusal.Message
                : $"{refusal.Message} ({heldBack} more refusals for this reason in the previous {Options.AuditWindow.TotalSeconds:0}s window were not recorded one by one)",
        }, cancellationToken).ConfigureAwait(false);
    }

    private async Task RefuseWaitAsync(WorkloadIdentity agent, string? taskId, string why, CancellationToken cancellationToken)
    {
        var refusal = new BrokerException(BrokerFailure.ResourceExhausted, Reasons.Quota.ApprovalWaits,
            $"Cannot wait for the approval: {why}. Retry without waiting, or later.")
        {
            RetryAfter = TimeSpan.FromSeconds(1),
        };
        await RecordAsync(agent, taskId, refusal, cancellationToken).ConfigureAwait(false);
        throw refusal;
    }

    private void LeaveWait(string agentId)
    {
        // Remove the entry when it reaches zero, so idle agents hold no memory.
        if (_waitsByAgent.AddOrUpdate(agentId, 0, (_, n) => n - 1) <= 0)
        {
            _waitsByAgent.TryRemove(new KeyValuePair<string, int>(agentId, 0));
        }

        Interlocked.Decrement(ref _waits);
    }

    // Bounded memory: once the map outgrows the tracked-agent bound, windows that have closed go (an agent seen again
    // simply opens a new one — and is audited, which errs on the side of a record).
    private void ForgetClosedWindows(DateTimeOffset now)
    {
        if (_windows.Count <= Options.MaxTrackedAgents)
        {
            return;
        }

        foreach (var (key, window) in _windows)
        {
            lock (window)
            {
                if (window.OpenedAt is not { } opened || now >= opened + Options.AuditWindow)
                {
                    _windows.TryRemove(new KeyValuePair<(string, string), AuditWindow>(key, window));
                }
            }
        }
    }

    private sealed class AuditWindow
    {
        public DateTimeOffset? OpenedAt { get; set; }

        public long HeldBack { get; set; }
    }

    private sealed class WaitSlot(QuotaGuard owner, string agentId) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.LeaveWait(agentId);
            }
        }
    }
}
