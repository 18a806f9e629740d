using JitBroker.Core;

namespace JitBroker.Leases;

/// <summary>
/// The embedded, single-node <see cref="ILeaseStore"/>: leases live in this process and do not survive a
/// restart. The due index is a set ordered by (due time, lease id) — the in-process twin of the Redis
/// sorted set — and it is the revocation schedule.
/// </summary>
/// <remarks>
/// <para>
/// Every operation runs under one lock with no awaits inside, so each is atomic and a claim can never hand
/// the same lease to two sweepers. Leases are immutable records: a change stores a replaced copy, so a
/// caller holding an earlier copy never sees it mutate.
/// </para>
/// <para>
/// Revoked leases stay readable (so <c>EndTask</c> can answer "already revoked" and introspection answers
/// "inactive") but leave the due index. To bound memory they are forgotten once
/// <see cref="DefaultRevokedRetention"/> (or the retention given to the constructor) has passed since the
/// later of their expiry and their revocation; the forgetting happens during <see cref="ClaimDueAsync"/> and
/// <see cref="NextDueAsync"/>, one of which the sweeper calls at every wake-up, and uses their <c>now</c> as the clock.
/// </para>
/// </remarks>
public sealed partial class InMemoryLeaseStore : ILeaseStore, IRevocationSchedule, IRevocationOutbox
{
    /// <summary>How long a revoked lease stays readable after it expired (or was revoked, if later).</summary>
    public static readonly TimeSpan DefaultRevokedRetention = TimeSpan.FromHours(1);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Lease> _leases = new(StringComparer.Ordinal);
    private readonly Dictionary<(string AgentId, string TaskId), HashSet<string>> _byTask = [];
    private readonly Dictionary<string, HashSet<string>> _byParent = new(StringComparer.Ordinal);
    private readonly SortedSet<(DateTimeOffset At, string LeaseId)> _due = new(TimeThenIdComparer.Instance);
    private readonly SortedSet<(DateTimeOffset At, string LeaseId)> _forgettable = new(TimeThenIdComparer.Instance);
    private readonly TimeSpan _revokedRetention;
    private readonly ILeaseDueSignal? _dueSignal;

    public InMemoryLeaseStore()
        : this(DefaultRevokedRetention)
    {
    }

    /// <param name="revokedRetention">How long revoked leases stay readable; see the class remarks.</param>
    /// <param name="dueSignal">Told of every due time this store schedules (this process's sweeper); null: nobody.</param>
    public InMemoryLeaseStore(TimeSpan revokedRetention, ILeaseDueSignal? dueSignal = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(revokedRetention, TimeSpan.Zero);
        _revokedRetention = revokedRetention;
        _dueSignal = dueSignal;
    }

    /// <summary>Number of lease records held, revoked ones not yet forgotten included.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _leases.Count;
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>The lease must be <see cref="LeaseState.Active"/>; it is stored due at its expiry whatever <see cref="Lease.DueAt"/> says.</remarks>
    public Task PutAsync(Lease lease, CancellationToken cancellationToken = default) => PutCoreAsync(lease, caps: null, cancellationToken);

    /// <inheritdoc />
    public Task PutWithinCapsAsync(Lease lease, ActiveLeaseCaps caps, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caps);
        return PutCoreAsync(lease, caps, cancellationToken);
    }

    private Task PutCoreAsync(Lease lease, ActiveLeaseCaps? caps, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        ArgumentException.ThrowIfNullOrEmpty(lease.LeaseId);
        if (lease.State != LeaseState.Active)
        {
            throw new ArgumentException($"A new lease must be {LeaseState.Active}, not {lease.State}.", nameof(lease));
        }

        cancellationToken.ThrowIfCancellationRequested();
        // Copy the lists: the caller may hand in a List it later changes, and a Redis store would not see that either.
        var stored = lease with
        {
            DueAt = lease.ExpiresAt,
            Scope = lease.Scope with { Tools = [.. lease.Scope.Tools], Resources = [.. lease.Scope.Resources] },
            RuleIds = [.. lease.RuleIds],
            DecidedIntent = lease.DecidedIntent.IsEmpty ? DecidedIntent.None
                : lease.DecidedIntent with { Context = new Dictionary<string, string>(lease.DecidedIntent.Context, StringComparer.Ordinal) },
        };
        lock (_gate)
        {
            if (_leases.ContainsKey(stored.LeaseId))
            {
                throw new InvalidOperationException($"Lease '{stored.LeaseId}' already exists.");
            }

            if (stored.ParentLeaseId is { } parentId && _leases.GetValueOrDefault(parentId)?.State != LeaseState.Active)
            {
                throw ParentNotActive(parentId);
            }

            // Under the same lock as the insert: no second put can slip in between the count and the add.
            EnsureWithinCaps(stored, caps);
            _leases.Add(stored.LeaseId, stored);
            CountLive(stored);

            var key = (stored.AgentId, stored.TaskId);
            if (!_byTask.TryGetValue(key, out var ids))
            {
                ids = new HashSet<string>(StringComparer.Ordinal);
                _byTask[key] = ids;
            }

            ids.Add(stored.LeaseId);
            if (stored.ParentLeaseId is { } parent)
            {
                if (!_byParent.TryGetValue(parent, out var children))
                {
                    children = new HashSet<string>(StringComparer.Ordinal);
                    _byParent[parent] = children;
                }

                children.Add(stored.LeaseId);
            }

            AddDue(stored.ExpiresAt, stored.LeaseId);
        }

        return Task.CompletedTask;
    }

    public Task<Lease?> GetAsync(string leaseId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leaseId);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return Task.FromResult(_leases.GetValueOrDefault(leaseId));
        }
    }

    public Task<IReadOnlyList<Lease>> ListByTaskAsync(string agentId, string taskId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(agentId);
        ArgumentNullException.ThrowIfNull(taskId);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (!_byTask.TryGetValue((agentId, taskId), out var ids))
            {
                return Task.FromResult<IReadOnlyList<Lease>>([]);
            }

            IReadOnlyList<Lease> leases = [.. ids.Select(id => _leases[id]).OrderBy(l => l.IssuedAt).ThenBy(l => l.LeaseId, StringComparer.Ordinal)];
            return Task.FromResult(leases);
        }
    }

    public Task<IReadOnlyList<Lease>> ClaimDueAsync(DateTimeOffset now, int max, TimeSpan claimTimeout, LedgerRevocation? ledger = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(claimTimeout, TimeSpan.Zero);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            ForgetExpiredRevoked(now);

            // Collect first, then change: the due set cannot be modified while it is being enumerated.
            var dueIds = new List<string>(Math.Min(max, _due.Count));
            foreach (var (at, leaseId) in _due)
            {
                if (at > now || dueIds.Count == max)
                {
                    break;
                }

                dueIds.Add(leaseId);
            }

            var claimed = new List<Lease>(dueIds.Count);
            foreach (var leaseId in dueIds)
            {
                var lease = _leases[leaseId];
                claimed.Add(RevokedInStep(lease, now, ledger) ? _leases[leaseId] : Claim(lease, now + claimTimeout));
            }

            return Task.FromResult<IReadOnlyList<Lease>>(claimed);
        }
    }

    public Task<DateTimeOffset?> NextDueAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            ForgetExpiredRevoked(now);
            return Task.FromResult<DateTimeOffset?>(_due.Count == 0 ? null : _due.Min.At);
        }
    }

    public Task<Lease?> TryClaimAsync(string leaseId, DateTimeOffset now, TimeSpan claimTimeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leaseId);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(claimTimeout, TimeSpan.Zero);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (!_leases.TryGetValue(leaseId, out var lease) || lease.State == LeaseState.Revoked)
            {
                return Task.FromResult<Lease?>(null);
            }

            return Task.FromResult<Lease?>(Claim(lease, now + claimTimeout));
        }
    }

    /// <inheritdoc />
    /// <remarks>All the trees in one step; each lease's children in id order.</remarks>
    public Task<IReadOnlyList<TreeClaim>> ClaimWithDescendantsAsync(IReadOnlyList<string> rootLeaseIds, DateTimeOffset now, TimeSpan claimTimeout,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rootLeaseIds);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(claimTimeout, TimeSpan.Zero);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<TreeClaim>>(ClaimTrees(rootLeaseIds.Select(id => id ?? throw new ArgumentException("A lease id is null.", nameof(rootLeaseIds))),
                now, claimTimeout, null));
        }
    }

    /// <inheritdoc />
    /// <remarks>The listing and the trees in one step.</remarks>
    public Task<IReadOnlyList<TreeClaim>> ClaimTaskAsync(string agentId, string taskId, DateTimeOffset now, TimeSpan claimTimeout,
        LedgerRevocation? ledger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(agentId);
        ArgumentNullException.ThrowIfNull(taskId);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(claimTimeout, TimeSpan.Zero);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var roots = ListByTaskAsync(agentId, taskId, cancellationToken).Result;
            return Task.FromResult<IReadOnlyList<TreeClaim>>(roots.Count == 0 ? [] : ClaimTrees(roots.Select(l => l.LeaseId), now, claimTimeout, ledger));
        }
    }

    // Under _gate: the roots, then their descendants breadth first (children in id order), each once; a lease of one of the
    // ledger's kinds is revoked instead of claimed (RevokedInStep).
    private List<TreeClaim> ClaimTrees(IEnumerable<string> rootLeaseIds, DateTimeOffset now, TimeSpan claimTimeout, LedgerRevocation? ledger)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>(rootLeaseIds.Where(seen.Add));
        var claims = new List<TreeClaim>(queue.Count);
        while (queue.TryDequeue(out var id))
        {
            _leases.TryGetValue(id, out var lease);
            if (lease is null || lease.State == LeaseState.Revoked)
            {
                claims.Add(new TreeClaim(id, null));
            }
            else if (RevokedInStep(lease, now, ledger))
            {
                claims.Add(new TreeClaim(id, _leases[id]));
            }
            else
            {
                claims.Add(new TreeClaim(id, Claim(lease, now + claimTimeout)));
            }

            foreach (var child in (_byParent.GetValueOrDefault(id) ?? []).Order(StringComparer.Ordinal).Where(seen.Add))
            {
                queue.Enqueue(child);
            }
        }

        return claims;
    }

    /// <inheritdoc />
    /// <remarks>All the ids in one step: the whole call is atomic here.</remarks>
    public Task<IReadOnlyList<bool>> MarkRevokedManyAsync(IReadOnlyList<string> leaseIds, DateTimeOffset revokedAt, string? auditOwner = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leaseIds);
        foreach (var leaseId in leaseIds)
        {
            ArgumentNullException.ThrowIfNull(leaseId, nameof(leaseIds));
        }

        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var changed = new bool[leaseIds.Count];
            for (var i = 0; i < changed.Length; i++)
            {
                changed[i] = MarkRevoked(leaseIds[i], revokedAt, auditOwner);
            }

            return Task.FromResult<IReadOnlyList<bool>>(changed);
        }
    }

    // Under _gate. A claim step's ledger revocation: a lease of one of the ledger's kinds is marked revoked (MarkRevoked:
    // its children scheduled, the owner's outbox) instead of claimed; true when it was.
    private bool RevokedInStep(Lease lease, DateTimeOffset now, LedgerRevocation? ledger) =>
        ledger is not null && ledger.IssuerKinds.Contains(lease.IssuerKind) && MarkRevoked(lease.LeaseId, now, ledger.AuditOwner);

    // Under _gate. Unknown (never stored, or already forgotten) and already revoked are both "done": idempotent.
    private bool MarkRevoked(string leaseId, DateTimeOffset revokedAt, string? auditOwner)
    {
        if (!_leases.TryGetValue(leaseId, out var lease) || lease.State == LeaseState.Revoked)
        {
            return false;
        }

        var revoked = Replace(lease, lease with { State = LeaseState.Revoked, RevokedAt = revokedAt, DueAt = null });
        UncountLive(lease);
        var forgetAt = (revoked.ExpiresAt > revokedAt ? revoked.ExpiresAt : revokedAt) + _revokedRetention;
        _forgettable.Add((forgetAt, leaseId));
        CountRevoked(lease);
        ScheduleChildren(leaseId, revokedAt);
        if (auditOwner is not null)
        {
            AddUnaudited(auditOwner, leaseId, revokedAt);
        }

        return true;
    }

    /// <inheritdoc />
    /// <remarks>
    /// A lease that is already revoked (EndTask and the sweeper can race on one lease) or unknown is left
    /// alone: a failure reported late must not put a revoked lease back on the schedule.
    /// </remarks>
    public Task MarkRevokeFailedAsync(string leaseId, string error, DateTimeOffset nextAttemptAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leaseId);
        ArgumentNullException.ThrowIfNull(error);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (_leases.TryGetValue(leaseId, out var lease) && lease.State != LeaseState.Revoked)
            {
                CountFailed(lease);
                Replace(lease, lease with
                {
                    State = LeaseState.RevokeFailed,
                    Attempts = lease.Attempts + 1,
                    LastError = error,
                    DueAt = nextAttemptAt,
                });
            }
        }

        return Task.CompletedTask;
    }

    private Lease Claim(Lease lease, DateTimeOffset claimDeadline) =>
        Replace(lease, lease with { State = LeaseState.Revoking, DueAt = claimDeadline });

    /// <summary>Swaps a record for its updated copy and keeps the due index in step. Caller holds the lock.</summary>
    private Lease Replace(Lease current, Lease updated)
    {
        if (current.DueAt is { } oldDue)
        {
            _due.Remove((oldDue, current.LeaseId));
        }

        if (updated.DueAt is { } newDue)
        {
            AddDue(newDue, updated.LeaseId);
        }

        _leases[updated.LeaseId] = updated;
        return updated;
    }

    /// <summary>
    /// Puts a lease on the schedule and tells the sweeper. Caller holds the lock: the signal only records a time (it never
    /// calls back into the store), and the sweeper's next look at the schedule waits for this lock, so it sees the entry.
    /// </summary>
    private void AddDue(DateTimeOffset at, string leaseId)
    {
        _due.Add((at, leaseId));
        _dueSignal?.LeaseDue(at);
    }

    /// <summary>Drops revoked leases whose retention has passed. Caller holds the lock.</summary>
    private void ForgetExpiredRevoked(DateTimeOffset now)
    {
        while (_forgettable.Count > 0 && _forgettable.Min.At <= now)
        {
            var (at, leaseId) = _forgettable.Min;
            _forgettable.Remove((at, leaseId));
            if (!_leases.Remove(leaseId, out var lease))
            {
                continue;
            }

            _batchOf.Remove(leaseId);

            var key = (lease.AgentId, lease.TaskId);
            if (_byTask.TryGetValue(key, out var ids) && ids.Remove(leaseId) && ids.Count == 0)
            {
                _byTask.Remove(key);
            }

            if (lease.ParentLeaseId is { } parent && _byParent.TryGetValue(parent, out var siblings) && siblings.Remove(leaseId) && siblings.Count == 0)
            {
                _byParent.Remove(parent);
            }
        }
    }

    /// <summary>Orders by instant, then by lease id ordinally (the default string comparer is culture-aware).</summary>
    private sealed class TimeThenIdComparer : IComparer<(DateTimeOffset At, string LeaseId)>
    {
        public static readonly TimeThenIdComparer Instance = new();

        public int Compare((DateTimeOffset At, string LeaseId) x, (DateTimeOffset At, string LeaseId) y)
        {
            var byTime = x.At.UtcTicks.CompareTo(y.At.UtcTicks);
            return byTime != 0 ? byTime : string.CompareOrdinal(x.LeaseId, y.LeaseId);
        }
    }
}
