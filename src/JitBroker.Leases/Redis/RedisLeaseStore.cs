using JitBroker.Core;
using JitBroker.Redis;
using StackExchange.Redis;
using LuaScript = JitBroker.Redis.LuaScript;

namespace JitBroker.Leases.Redis;

/// <summary>
/// The production <see cref="ILeaseStore"/>: leases in Redis, shared by every broker replica. The due sorted
/// set is the revocation schedule; nothing per lease lives in broker memory, so start-up cost does not grow
/// with the number of leases. Every multi-key change is one Lua script (see <see cref="LeaseScripts"/>);
/// the key layout and its costs are in docs/redis.md.
/// </summary>
/// <remarks>
/// <para>
/// Revoked leases stay readable for a retention (default <see cref="InMemoryLeaseStore.DefaultRevokedRetention"/>)
/// after the later of their expiry and their revocation. <see cref="ClaimDueAsync"/> forgets those whose
/// retention has passed (judged by its <c>now</c>), removing them from every index; a <c>PEXPIRE</c> on each
/// revoked hash is the backstop when no sweeper runs, and readers drop index entries whose hash is gone.
/// </para>
/// <para>
/// Every Redis failure surfaces as <see cref="BrokerException"/> (Unavailable, <see cref="Reasons.LeaseStoreUnavailable"/>).
/// After such a failure a write's outcome is unknown: it ran entirely or not at all (scripts are atomic).
/// </para>
/// </remarks>
public sealed partial class RedisLeaseStore : ILeaseStore
{
    /// <summary>Most leases one claim script returns (see <see cref="ClaimDueAsync"/>): about 64 KB of reply.</summary>
    public const int ClaimChunkSize = 64;

    /// <summary>Most roots one tree-claim script walks (with their descendants; see <see cref="ClaimWithDescendantsAsync"/>).</summary>
    public const int RootsPerClaimScript = 64;

    /// <summary>Most leases one mark-revoked script marks (each may also schedule its children).</summary>
    public const int MarksPerScript = 64;

    /// <summary>Longest last-error text kept per lease (memory), in characters.</summary>
    public const int MaxLastErrorLength = 1024;

    private readonly IRedisConnection _redis;
    private readonly RedisKeyLayout _layout;
    private readonly RedisKey[][] _dueKeys;
    private readonly long _retentionMs;
    private readonly StateMac _mac;
    private readonly ILeaseDueSignal? _dueSignal;
    private int _nextBucket;

    public RedisLeaseStore(IRedisConnection redis, string keyPrefix)
        : this(redis, keyPrefix, InMemoryLeaseStore.DefaultRevokedRetention)
    {
    }

    /// <param name="redis">The shared connection.</param>
    /// <param name="keyPrefix">Prefix of every key (<see cref="RedisOptions.KeyPrefix"/>).</param>
    /// <param name="revokedRetention">How long revoked leases stay readable; see the class remarks.</param>
    public RedisLeaseStore(IRedisConnection redis, string keyPrefix, TimeSpan revokedRetention)
        : this(redis, new RedisKeyLayout(keyPrefix), revokedRetention)
    {
    }

    /// <param name="redis">The shared connection.</param>
    /// <param name="layout">Key prefix and bucket count (<see cref="RedisOptions.Buckets"/>).</param>
    /// <param name="revokedRetention">How long revoked leases stay readable; see the class remarks.</param>
    /// <param name="stateMac">
    /// Authenticates each lease's backend handle; null means <see cref="StateMac.ProcessEphemeral"/> (tests, tools). The
    /// host always passes the configured key, which every replica shares.
    /// </param>
    /// <param name="dueSignal">Told of every due time a write of this process schedules (its sweeper); null: nobody.</param>
    public RedisLeaseStore(IRedisConnection redis, RedisKeyLayout layout, TimeSpan revokedRetention, StateMac? stateMac = null,
        ILeaseDueSignal? dueSignal = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentOutOfRangeException.ThrowIfLessThan(revokedRetention, TimeSpan.Zero);
        _redis = redis;
        _layout = layout;
        _dueKeys = [.. Enumerable.Range(0, layout.Buckets).Select(b => new RedisKey[] { layout.BucketPrefix(b) + "due" })];
        _retentionMs = (long)revokedRetention.TotalMilliseconds;
        _mac = stateMac ?? StateMac.ProcessEphemeral;
        _dueSignal = dueSignal;
        // Each replica starts its round over the buckets somewhere else, so replicas spread over the shards.
        _nextBucket = layout.Buckets == 1 ? 0 : System.Security.Cryptography.RandomNumberGenerator.GetInt32(layout.Buckets);
    }

    /// <summary>Key prefix and buckets.</summary>
    public RedisKeyLayout Layout => _layout;

    private int Buckets => _layout.Buckets;

    /// <inheritdoc />
    /// <remarks>The lease must be <see cref="LeaseState.Active"/>; it is stored due at its expiry whatever <see cref="Lease.DueAt"/> says.</remarks>
    public Task PutAsync(Lease lease, CancellationToken cancellationToken = default) => PutCoreAsync(lease, caps: null, cancellationToken);

    /// <inheritdoc />
    /// <remarks>Count and insert are one script (see <see cref="LeaseScripts"/>' caps).</remarks>
    public Task PutWithinCapsAsync(Lease lease, ActiveLeaseCaps caps, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caps);
        return PutCoreAsync(lease, caps, cancellationToken);
    }

    private async Task PutCoreAsync(Lease lease, ActiveLeaseCaps? caps, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        ArgumentException.ThrowIfNullOrEmpty(lease.LeaseId);
        if (lease.State != LeaseState.Active)
        {
            throw new ArgumentException($"A new lease must be {LeaseState.Active}, not {lease.State}.", nameof(lease));
        }

        LeaseCodec.EnsureStorable(lease);
        var bucket = _layout.BucketOf(lease.LeaseId);
        if (lease.ParentLeaseId is { } parentId && _layout.BucketOf(parentId) != bucket)
        {
            // A delegation tree must share a bucket (one slot), or cascades could not be atomic. The broker places a
            // delegated lease's id with its parent (LeaseIds.New(LeaseIds.PlacementOf(parent))); anything else is a bug.
            throw new ArgumentException($"Lease '{lease.LeaseId}' is not placed with its parent '{parentId}' (see LeaseIds.PlacementOf).", nameof(lease));
        }

        // One array, sized by the codec, sent as is: the script's nine leading arguments, then the lease's fields.
        var args = LeaseCodec.ToFields(lease, _mac, reserved: 9);
        args[0] = _layout.BucketPrefix(bucket);
        args[1] = lease.LeaseId;
        args[2] = lease.AgentId;
        args[3] = lease.TaskId;
        args[4] = lease.ParentLeaseId ?? "";
        args[5] = LeaseCodec.Ms(lease.ExpiresAt);
        args[6] = caps is null ? 0 : LeaseCodec.Ms(caps.Now);
        args[7] = CapArg(caps?.PerAgent);
        args[8] = CapArg(caps?.PerTask);
        // Durable: the credential leaves the broker only on this write, so it must survive a failover (see RunDurableAsync).
        // RunDurableAsync's body, inline: one async state machine fewer on every lease write.
        cancellationToken.ThrowIfCancellationRequested();
        RedisResult stored;
        try
        {
            stored = await _redis.EvalDurableAsync(LeaseScripts.Put, _dueKeys[bucket], args, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw Unavailable(ex);
        }

        switch (stored.AsInt64())
        {
            case 0:
                throw new InvalidOperationException($"Lease '{lease.LeaseId}' already exists.");
            case -2:
                throw ActiveLeaseCaps.AgentCapReached(caps!.PerAgent!.Value);
            case -3:
                throw ActiveLeaseCaps.TaskCapReached(caps!.PerTask!.Value);
            case < 0:
                throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.ParentLeaseNotActive,
                    $"Parent lease '{lease.ParentLeaseId}' is no longer active.");
        }

        _dueSignal?.LeaseDue(lease.ExpiresAt);
    }

    private static RedisValue CapArg(int? cap) => cap is { } n ? n : "";

    public async Task<Lease?> GetAsync(string leaseId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leaseId);
        cancellationToken.ThrowIfCancellationRequested();
        RedisResult reply;
        try
        {
            reply = await _redis.ExecuteAsync("HGETALL", [LeaseKey(leaseId)], cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw Unavailable(ex);
        }

        var fields = reply.AsArray();
        return fields.Length == 0 ? null : LeaseCodec.FromFields(leaseId, fields, _mac);
    }

    /// <inheritdoc />
    /// <remarks>Ordered by issue time, then lease id, like the embedded store.</remarks>
    public async Task<IReadOnlyList<Lease>> ListByTaskAsync(string agentId, string taskId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(agentId);
        ArgumentNullException.ThrowIfNull(taskId);
        // A task's own leases share a bucket, but leases delegated to it live in their delegation tree's bucket: ask each.
        var replies = await ForEachBucketAsync(b => RunAsync(LeaseScripts.FetchSet, b, [_layout.BucketPrefix(b), TaskKey(b, agentId, taskId)], cancellationToken))
            .ConfigureAwait(false);
        // The index key joins agent and task with '|', which both may contain: filter out any collision.
        return [.. replies.SelectMany(r => LeaseCodec.FromPairs(r.AsArray(), _mac))
            .Where(l => string.Equals(l.AgentId, agentId, StringComparison.Ordinal) && string.Equals(l.TaskId, taskId, StringComparison.Ordinal))
            .OrderBy(l => l.IssuedAt)
            .ThenBy(l => l.LeaseId, StringComparer.Ordinal)];
    }

    /// <inheritdoc />
    /// <remarks>
    /// Claims in chunks of at most <see cref="ClaimChunkSize"/> leases, one atomic script each, until
    /// <paramref name="max"/> are claimed or a chunk comes back short. Each lease is still claimed atomically (no two
    /// sweepers ever hold the same one); only the batch as a whole is no longer one script. Why: a 500-lease reply
    /// is ~0.5 MB, which reaches the RESP reader over many socket reads, and the reader re-parses an incomplete
    /// reply from its start on every read — measured with tests/JitBroker.PerfHarness, that re-parsing took over
    /// half the broker's CPU while 100k leases expired (docs/benchmarks.md, "Performance harness (issue 10)").
    /// When <paramref name="cancellationToken"/> fires between chunks, the leases already claimed are returned.
    /// </remarks>
    public async Task<IReadOnlyList<Lease>> ClaimDueAsync(DateTimeOffset now, int max, TimeSpan claimTimeout, LedgerRevocation? ledger = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(claimTimeout, TimeSpan.Zero);
        var claim = new DueClaim(LeaseCodec.Ms(now), LeaseCodec.Ms(now + claimTimeout), LedgerArgs(ledger));
        var claimed = await ClaimDueCoreAsync(claim, max, cancellationToken).ConfigureAwait(false);
        if (ledger is not null && claimed.Any(l => l.State == LeaseState.Revoked))
        {
            // A revoked lease's live children were scheduled due now by the script.
            _dueSignal?.LeaseDue(now);
        }

        return claimed;
    }

    /// <summary>
    /// A claim script's last arguments (<c>ledger_args</c> in <see cref="LeaseScripts"/>): retention, audit owner and issuer
    /// kinds; none without a ledger revocation.
    /// </summary>
    private RedisValue[] LedgerArgs(LedgerRevocation? ledger) =>
        ledger is null || ledger.IssuerKinds.Count == 0 ? [] : [_retentionMs, ledger.AuditOwner ?? "", .. ledger.IssuerKinds.Select(k => (RedisValue)k)];

    /// <summary>
    /// Runs a claim script; durable when it may revoke (its arguments end with <see cref="LedgerArgs"/>), as
    /// <see cref="MarkRevokedManyAsync"/> is: a mark lost in a failover would be revoked and audited twice.
    /// </summary>
    private Task<RedisResult> RunClaimAsync(LuaScript script, int bucket, RedisValue[] args, bool mayRevoke, CancellationToken cancellationToken) =>
        mayRevoke ? RunDurableAsync(script, bucket, args, cancellationToken) : RunAsync(script, bucket, args, cancellationToken);

    private readonly record struct DueClaim(long NowMs, long Deadline, RedisValue[] Ledger);

    private async Task<IReadOnlyList<Lease>> ClaimDueCoreAsync(DueClaim claim, int max, CancellationToken cancellationToken)
    {
        var nowMs = claim.NowMs;
        if (Buckets == 1)
        {
            return await ClaimFromBucketAsync(0, claim, max, cancellationToken).ConfigureAwait(false);
        }

        // Sharded: first how many leases each bucket has due (a count, capped at max, one small script per bucket, all at
        // once), then each bucket claims its share with its own scripts, all buckets at once. When everything due fits in
        // max, every bucket claims all of its due leases; otherwise the claim is shared in proportion to the backlogs
        // (as counted: buckets with a full claim's backlog or more share alike), and the rounding remainder goes round
        // the buckets from a start that moves every claim, so even a small backlog beside big ones is reached.
        // Due order then holds within each bucket, not across buckets. Why that is enough: every bucket loses the same
        // fraction (max ÷ total due) of its backlog per claim, so all backlogs drain together in total ÷ max claims, the
        // same number of claims a strict cross-bucket order needs for the last of them; a lease may be revoked a little
        // before an earlier-due lease of another bucket, but never later than the whole backlog takes to drain. What
        // strict order cost: reading up to max due times from every bucket per claim (16 × 500 with the defaults) and
        // sorting them, which on a 3-primary cluster made the sweeper fall behind 10,000 expiries/s (docs/benchmarks.md).
        // Any bucket failing fails the whole claim (the sweep pass ends and the next one retries), even though the
        // other buckets could be claimed: the replica's audit stream lives on one shard, and revoking on healthy shards
        // while it is unreachable would revoke leases whose lease.revoked event cannot be written (measured: 506 in one
        // SIGKILL run with broker processes). Tolerate failed buckets once the revocation's audit record is written by
        // the mark-revoked script itself, per bucket (issue 15 item 5). docs/redis.md, "Sweeping". With a ledger revocation
        // the healthy buckets' scripts may already have revoked leases when another bucket fails: their lease.revoked
        // records are then left to the outbox's recovery of this replica's own entries (after Revocation:UnauditedGrace).
        var peeks = await ForEachBucketAsync(b => RunAsync(LeaseScripts.DuePeek, b, [_layout.BucketPrefix(b), nowMs, max], cancellationToken))
            .ConfigureAwait(false);
        var share = ClaimShares([.. peeks.Select(p => (int)p.AsArray()[0].AsInt64())], max, (int)((uint)Interlocked.Increment(ref _nextBucket) % (uint)Buckets));
        var parts = await Task.WhenAll(Enumerable.Range(0, Buckets).Where(b => share[b] > 0).Select(b =>
            ClaimFromBucketAsync(b, claim, share[b], cancellationToken))).ConfigureAwait(false);
        return [.. parts.SelectMany(p => p)];
    }

    /// <summary>
    /// How many of <paramref name="max"/> claims each bucket takes, given how many it has due: all of them when they fit,
    /// else in proportion (rounded down), the rest one each to buckets with more due, in a per-replica rotating order
    /// from <paramref name="start"/> so replicas racing for the same backlog start on different buckets.
    /// </summary>
    internal static int[] ClaimShares(IReadOnlyList<int> due, int max, int start)
    {
        long total = due.Sum(d => (long)d);
        if (total <= max)
        {
            return [.. due];
        }

        var share = due.Select(d => (int)(max * (long)d / total)).ToArray();
        var left = max - share.Sum();
        for (var i = 0; left > 0; i = (i + 1) % due.Count)
        {
            var b = (start + i) % due.Count;
            if (due[b] > share[b])
            {
                share[b]++;
                left--;
            }
        }

        return share;
    }

    /// <inheritdoc />
    /// <remarks>One small script per bucket (all at once on a cluster); each also forgets revoked leases whose time has come.</remarks>
    public async Task<DateTimeOffset?> NextDueAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var nowMs = LeaseCodec.Ms(now);
        var peeks = await ForEachBucketAsync(b => RunAsync(LeaseScripts.DuePeek, b, [_layout.BucketPrefix(b), nowMs, 0], cancellationToken))
            .ConfigureAwait(false);
        long? earliest = null;
        foreach (var peek in peeks)
        {
            var reply = peek.AsArray();
            if (reply.Length > 1 && (earliest is null || reply[1].AsInt64() < earliest))
            {
                earliest = reply[1].AsInt64();
            }
        }

        return earliest is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
    }

    /// <summary>Claims up to <paramref name="max"/> due leases of one bucket, in chunks of <see cref="ClaimChunkSize"/>.</summary>
    private async Task<IReadOnlyList<Lease>> ClaimFromBucketAsync(int bucket, DueClaim claim, int max, CancellationToken cancellationToken)
    {
        List<Lease>? claimed = null;
        while (true)
        {
            var want = Math.Min(ClaimChunkSize, max - (claimed?.Count ?? 0));
            var reply = await RunClaimAsync(LeaseScripts.ClaimDue, bucket, [_layout.BucketPrefix(bucket), claim.NowMs, want, claim.Deadline, .. claim.Ledger],
                claim.Ledger.Length > 0, cancellationToken).ConfigureAwait(false);
            var chunk = LeaseCodec.FromPairs(reply.AsArray(), _mac);
            if (claimed is null && (chunk.Count < want || want == max))
            {
                return chunk; // the common case: everything due fits in one chunk
            }

            (claimed ??= new List<Lease>(Math.Min(max, 4 * ClaimChunkSize))).AddRange(chunk);
            if (chunk.Count < want || claimed.Count >= max || cancellationToken.IsCancellationRequested)
            {
                // The claims taken so far belong to the caller now; dropping them would only delay them to their deadline.
                return claimed;
            }
        }
    }

    public async Task<Lease?> TryClaimAsync(string leaseId, DateTimeOffset now, TimeSpan claimTimeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leaseId);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(claimTimeout, TimeSpan.Zero);
        var bucket = _layout.BucketOf(leaseId);
        var reply = await RunAsync(LeaseScripts.TryClaim, bucket, [_layout.BucketPrefix(bucket), leaseId, LeaseCodec.Ms(now + claimTimeout)], cancellationToken).ConfigureAwait(false);
        if (reply.IsNull)
        {
            return null;
        }

        // Should this revoker die, the claim lapses then and the sweeper must look.
        _dueSignal?.LeaseDue(now + claimTimeout);
        return LeaseCodec.FromFields(leaseId, reply.AsArray(), _mac);
    }

    /// <inheritdoc />
    /// <remarks>
    /// One script per bucket and <see cref="RootsPerClaimScript"/> roots, all at once (a delegation tree shares its root's
    /// bucket, so each script walks whole trees); the descendants come bucket after bucket, each part breadth first.
    /// </remarks>
    public async Task<IReadOnlyList<TreeClaim>> ClaimWithDescendantsAsync(IReadOnlyList<string> rootLeaseIds, DateTimeOffset now, TimeSpan claimTimeout,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rootLeaseIds);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(claimTimeout, TimeSpan.Zero);
        var roots = rootLeaseIds.Select(id => id ?? throw new ArgumentException("A lease id is null.", nameof(rootLeaseIds))).Distinct(StringComparer.Ordinal).ToList();
        var deadline = LeaseCodec.Ms(now + claimTimeout);
        var replies = await Task.WhenAll(roots.GroupBy(_layout.BucketOf).SelectMany(g => g.Chunk(RootsPerClaimScript).Select(chunk =>
        {
            var args = new List<RedisValue>(chunk.Length + 2) { _layout.BucketPrefix(g.Key), deadline };
            args.AddRange(chunk.Select(id => (RedisValue)id));
            return RunAsync(LeaseScripts.ClaimTrees, g.Key, args, cancellationToken);
        }))).ConfigureAwait(false);

        return TreeClaims(roots, replies.Select(r => r.AsArray()));
    }

    /// <inheritdoc />
    /// <remarks>
    /// One script per bucket (<see cref="LeaseScripts.ClaimTask"/>), each listing the bucket's leases of the task and
    /// claiming their trees in one step; the roots of all buckets are then put in issue order, and the descendants follow
    /// bucket after bucket, each part breadth first. On one bucket EndTask takes one round trip where the listing and the
    /// tree claim took two.
    /// </remarks>
    public async Task<IReadOnlyList<TreeClaim>> ClaimTaskAsync(string agentId, string taskId, DateTimeOffset now, TimeSpan claimTimeout,
        LedgerRevocation? ledger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(agentId);
        ArgumentNullException.ThrowIfNull(taskId);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(claimTimeout, TimeSpan.Zero);
        var (deadline, nowMs, ledgerArgs) = (LeaseCodec.Ms(now + claimTimeout), LeaseCodec.Ms(now), LedgerArgs(ledger));
        var replies = await ForEachBucketAsync(b => RunClaimAsync(LeaseScripts.ClaimTask, b,
            [_layout.BucketPrefix(b), deadline, agentId, taskId, TaskKey(b, agentId, taskId), nowMs, .. ledgerArgs], ledgerArgs.Length > 0, cancellationToken))
            .ConfigureAwait(false);

        var found = replies.Select(r => r.AsArray()).ToList();
        var roots = found.SelectMany(r => PairsOf(r[0].AsArray()).Select(p => (IssuedMs: p.Value.AsInt64(), Id: p.Id)))
            .OrderBy(r => r.IssuedMs).ThenBy(r => r.Id, StringComparer.Ordinal).Select(r => r.Id).ToList();
        var tree = TreeClaims(roots, found.Select(r => r[1].AsArray()));
        if (tree.Any(c => c.Claimed is not null && !c.RevokedInStep))
        {
            // Should this revoker die, its claims lapse at their deadline and the sweeper must look then. A lease the
            // script revoked leaves nothing due: its children, scheduled due now by the mark, were walked and claimed or
            // revoked by the same script — so a task of JWT leases does not wake the sweeper for nothing.
            _dueSignal?.LeaseDue(now + claimTimeout);
        }

        return tree;
    }

    /// <summary>
    /// The tree-claim scripts' replies ([id, fields, …] each; empty fields for a revoked lease) as one list: the roots in
    /// the given order, then every other lease in reply order, each once — a lease walked by two scripts keeps its claim.
    /// </summary>
    private IReadOnlyList<TreeClaim> TreeClaims(IReadOnlyList<string> roots, IEnumerable<RedisResult[]> replies)
    {
        var claimed = new Dictionary<string, Lease?>(StringComparer.Ordinal);
        var walked = new List<string>();
        foreach (var (id, fields) in replies.SelectMany(PairsOf))
        {
            var items = fields.AsArray();
            var lease = items.Length == 0 ? null : LeaseCodec.FromFields(id, items, _mac);
            if (claimed.TryAdd(id, lease))
            {
                walked.Add(id);
            }
            else
            {
                claimed[id] ??= lease;
            }
        }

        var rootSet = roots.ToHashSet(StringComparer.Ordinal);
        return [.. roots.Concat(walked.Where(id => !rootSet.Contains(id))).Select(id => new TreeClaim(id, claimed.GetValueOrDefault(id)))];
    }

    private static IEnumerable<(string Id, RedisResult Value)> PairsOf(RedisResult[] items)
    {
        for (var i = 0; i + 1 < items.Length; i += 2)
        {
            yield return (items[i].AsString()!, items[i + 1]);
        }
    }

    /// <inheritdoc />
    /// <remarks>One script per bucket and <see cref="MarksPerScript"/> ids; each script is atomic.</remarks>
    public async Task<IReadOnlyList<bool>> MarkRevokedManyAsync(IReadOnlyList<string> leaseIds, DateTimeOffset revokedAt, string? auditOwner = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leaseIds);
        var changed = new bool[leaseIds.Count];
        var byBucket = Enumerable.Range(0, leaseIds.Count)
            .GroupBy(i => _layout.BucketOf(leaseIds[i] ?? throw new ArgumentException("A lease id is null.", nameof(leaseIds))));
        foreach (var group in byBucket)
        {
            foreach (var chunk in group.Chunk(MarksPerScript))
            {
                // Unknown and already revoked are both "done": the script changes nothing for them. Durable: a mark lost in a
                // failover would have the lease revoked (and audited) a second time.
                var args = new List<RedisValue>(chunk.Length + 4) { _layout.BucketPrefix(group.Key), LeaseCodec.Ms(revokedAt), _retentionMs, auditOwner ?? "" };
                args.AddRange(chunk.Select(i => (RedisValue)leaseIds[i]));
                var reply = (await RunDurableAsync(LeaseScripts.MarkRevoked, group.Key, args, cancellationToken).ConfigureAwait(false)).AsArray();
                for (var k = 0; k < chunk.Length; k++)
                {
                    changed[chunk[k]] = reply[k].AsInt64() == 1;
                }
            }
        }

        if (changed.Any(c => c))
        {
            // A revoked lease's live children were scheduled due now by the script.
            _dueSignal?.LeaseDue(revokedAt);
        }

        return changed;
    }

    /// <inheritdoc />
    /// <remarks>
    /// A revoked or unknown lease is left alone, so a late failure report cannot reschedule a revoked lease.
    /// The error text is cut to <see cref="MaxLastErrorLength"/> characters.
    /// </remarks>
    public async Task MarkRevokeFailedAsync(string leaseId, string error, DateTimeOffset nextAttemptAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leaseId);
        ArgumentNullException.ThrowIfNull(error);
        var kept = error.Length <= MaxLastErrorLength ? error : error[..MaxLastErrorLength];
        var bucket = _layout.BucketOf(leaseId);
        await RunAsync(LeaseScripts.MarkFailed, bucket, [_layout.BucketPrefix(bucket), leaseId, kept, LeaseCodec.Ms(nextAttemptAt)], cancellationToken).ConfigureAwait(false);
        _dueSignal?.LeaseDue(nextAttemptAt);
    }

    internal RedisKey LeaseKey(string leaseId) => $"{_layout.BucketPrefix(_layout.BucketOf(leaseId))}lease:{{{leaseId}}}";

    internal string TaskKey(int bucket, string agentId, string taskId) => $"{_layout.BucketPrefix(bucket)}task:{{{agentId}|{taskId}}}";

    private async Task<RedisResult> RunAsync(LuaScript script, int bucket, IReadOnlyList<RedisValue> args, CancellationToken cancellationToken)
    {
        // Checked here, not only by the connection: a call cancelled before it starts must change nothing.
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            // KEYS[1] is the bucket's due set: the client routes the script to its slot, and every other key the
            // script touches carries the same hash tag (ARGV[1], the bucket prefix).
            return await _redis.EvalAsync(script, _dueKeys[bucket], args, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw Unavailable(ex);
        }
    }

    /// <summary>
    /// A write that must survive a failover: new leases, revocation marks and bulk schedules. With
    /// <see cref="RedisOptions.MinReplicasToAck"/> set, too few replica acknowledgements make it UNAVAILABLE
    /// (cause <c>redis.noreplicas</c>) although the script ran on the primary. What that leaves is safe: a lease
    /// recorded for a credential that was never handed out (the broker undoes the credential and the sweeper revokes
    /// the lease at its expiry); a mark or schedule that is repeated (the claim lapses and the lease is revoked again;
    /// scheduling is idempotent). Claims and failure marks are not durable: losing one only makes a lease due again.
    /// </summary>
    private async Task<RedisResult> RunDurableAsync(LuaScript script, int bucket, IReadOnlyList<RedisValue> args, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            return await _redis.EvalDurableAsync(script, _dueKeys[bucket], args, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw Unavailable(ex);
        }
    }

    /// <summary>Runs <paramref name="call"/> for every bucket at once (each on its own shard), answers in bucket order.</summary>
    private Task<T[]> ForEachBucketAsync<T>(Func<int, Task<T>> call) =>
        Buckets == 1 ? OneAsync(call(0)) : Task.WhenAll(Enumerable.Range(0, Buckets).Select(call));

    private static async Task<T[]> OneAsync<T>(Task<T> task) => [await task.ConfigureAwait(false)];

    private static BrokerException Unavailable(Exception ex) =>
        StoreFailures.Unavailable(Reasons.LeaseStoreUnavailable, "lease store", ex);
}
