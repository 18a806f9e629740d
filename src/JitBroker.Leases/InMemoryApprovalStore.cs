using JitBroker.Core;

namespace JitBroker.Leases;

/// <summary>
/// The embedded approval store: one process, gone on restart. Records are immutable; a transition stores the
/// caller's new record under the lock after comparing the current state. Decided approvals are kept (they are
/// few and human-paced); a restart clears them.
/// </summary>
public sealed class InMemoryApprovalStore : IApprovalStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ApprovalRecord> _approvals = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _byAgent = new(StringComparer.Ordinal);

    /// <inheritdoc />
    /// <remarks>Refuses (<see cref="InvalidOperationException"/>) an id that already exists: a decided approval is never overwritten.</remarks>
    public Task PutAsync(ApprovalRecord approval, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(approval);
        ArgumentException.ThrowIfNullOrEmpty(approval.ApprovalId);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (!_approvals.TryAdd(approval.ApprovalId, approval))
            {
                throw new InvalidOperationException($"Approval '{approval.ApprovalId}' already exists.");
            }

            if (!_byAgent.TryGetValue(approval.AgentId, out var ids))
            {
                _byAgent[approval.AgentId] = ids = [];
            }

            ids.Add(approval.ApprovalId);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    /// <remarks>Looks at the agent's approvals only: the scan is bounded by what one agent has open or kept.</remarks>
    public Task<OpenedApproval> OpenPendingAsync(ApprovalRecord approval, int? maxPendingPerAgent, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(approval);
        ArgumentException.ThrowIfNullOrEmpty(approval.ApprovalId);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var pending = _byAgent.TryGetValue(approval.AgentId, out var ids)
                ? ids.Select(id => _approvals[id]).Where(a => a.State == ApprovalState.Pending && a.ExpiresAt > now).ToList()
                : [];
            if (pending.Find(a => string.Equals(a.RequestHash, approval.RequestHash, StringComparison.Ordinal)) is { } same)
            {
                return Task.FromResult(new OpenedApproval(ApprovalOpening.Duplicate, same));
            }

            if (pending.Count >= maxPendingPerAgent)
            {
                return Task.FromResult(new OpenedApproval(ApprovalOpening.CapReached, null));
            }

            if (!_approvals.TryAdd(approval.ApprovalId, approval))
            {
                throw new InvalidOperationException($"Approval '{approval.ApprovalId}' already exists.");
            }

            // Only the agent's still-pending ones stay indexed: decided approvals drop out as the agent opens new ones.
            _byAgent[approval.AgentId] = [.. pending.Select(a => a.ApprovalId), approval.ApprovalId];
            return Task.FromResult(new OpenedApproval(ApprovalOpening.Created, approval));
        }
    }

    public Task<ApprovalRecord?> GetAsync(string approvalId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(approvalId);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return Task.FromResult(_approvals.GetValueOrDefault(approvalId));
        }
    }

    public Task<IReadOnlyList<ApprovalRecord>> ListPendingAsync(DateTimeOffset now, int max, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<ApprovalRecord>>([.. _approvals.Values
                .Where(a => a.State == ApprovalState.Pending && a.ExpiresAt > now)
                .OrderBy(a => a.CreatedAt)
                .ThenBy(a => a.ApprovalId, StringComparer.Ordinal)
                .Take(max)]);
        }
    }

    public Task<bool> TransitionAsync(ApprovalRecord next, ApprovalState expected, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(next);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (!_approvals.TryGetValue(next.ApprovalId, out var current) || current.State != expected)
            {
                return Task.FromResult(false);
            }

            _approvals[next.ApprovalId] = next;
            return Task.FromResult(true);
        }
    }
}
