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
        }

        return Task.CompletedTask;
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
