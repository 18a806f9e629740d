using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using JitBroker.Core;
using JitBroker.Leases.Redis;
using JitBroker.Redis;

namespace JitBroker.Ha.Tests.Harness;

/// <summary>
/// The test's own view of the Redis ledger the brokers share: a separate connection and a
/// <see cref="RedisLeaseStore"/> on the brokers' key prefix, for writing leases fast (many concurrent
/// <c>PutAsync</c> calls pipelined on one connection) and reading what the brokers did.
/// </summary>
internal sealed class LeaseLedger : IAsyncDisposable
{
    public const string KeyPrefix = "jitbroker:";

    private LeaseLedger(RedisConnection redis)
    {
        Redis = redis;
        Store = new RedisLeaseStore(redis, KeyPrefix);
    }

    public RedisConnection Redis { get; }

    public RedisLeaseStore Store { get; }

    public static LeaseLedger Connect(string endpoint, TimeSpan? commandTimeout = null) =>
        new(new RedisConnection(new RedisOptions
        {
            Endpoint = endpoint,
            CommandTimeout = commandTimeout ?? TimeSpan.FromSeconds(30),
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(200),
            ClientName = "jitbroker-ha-test",
            AllowAdminCommands = true, // INFO, MEMORY, CONFIG for the probes; the brokers under test never get it
        }));

    /// <summary>A JWT lease shaped like production ones (four per task, 500 agents, realistic field sizes).</summary>
    public static Lease NewLease(int i, DateTimeOffset issuedAt, DateTimeOffset expiresAt)
    {
        var id = LeaseIds.New();
        return new Lease
        {
            LeaseId = id,
            TaskId = $"task-{i / 4:x8}",
            AgentId = $"spiffe://prod.example.org/ns/agents/sa/coder-{i / 4 % 500}",
            IssuerKind = "jwt",
            BackendHandle = id,
            Scope = new GrantedScope("https://git.example.com", "read", ["git.clone", "git.fetch"], ["repo:acme/app"]),
            IssuedAt = issuedAt,
            ExpiresAt = expiresAt,
            RuleIds = ["repo-read"],
            CredentialFingerprint = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(BitConverter.GetBytes(i))),
            AgentFacts = new Dictionary<string, string> { ["td"] = "prod.example.org", ["method"] = "jwt-svid" },
        };
    }

    /// <summary>Writes <paramref name="count"/> leases with <paramref name="inFlight"/> puts outstanding at a time; returns their ids in index order.</summary>
    public async Task<string[]> PutManyAsync(int count, Func<int, Lease> lease, int inFlight = 2000, CancellationToken cancellationToken = default)
    {
        var ids = new string[count];
        var next = -1;
        var workers = Enumerable.Range(0, Math.Min(inFlight, Math.Max(1, count))).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var l = lease(i);
                await Store.PutAsync(l, cancellationToken);
                ids[i] = l.LeaseId;
            }
        });
        await Task.WhenAll(workers);
        return ids;
    }

    /// <summary>Reads every lease (null for one the store no longer has), <paramref name="inFlight"/> reads outstanding at a time.</summary>
    public async Task<Lease?[]> GetManyAsync(IReadOnlyList<string> ids, int inFlight = 1000, CancellationToken cancellationToken = default)
    {
        var leases = new Lease?[ids.Count];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, Math.Min(inFlight, Math.Max(1, ids.Count))).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < ids.Count)
            {
                leases[i] = await Store.GetAsync(ids[i], cancellationToken);
            }
        }));
        return leases;
    }

    /// <summary>Polls <see cref="ILeaseQueries.CountByStateAsync"/> every 50 ms until <paramref name="done"/> holds; false on timeout.</summary>
    public async Task<bool> WaitForCountsAsync(Func<IReadOnlyDictionary<LeaseState, long>, bool> done, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < timeout)
        {
            try
            {
                if (done(await Store.CountByStateAsync(cancellationToken)))
                {
                    return true;
                }
            }
            catch (BrokerException)
            {
                // Redis is being restarted by the test; keep polling.
            }

            await Task.Delay(50, cancellationToken);
        }

        return false;
    }

    /// <summary>True when nothing is left to revoke: no active, revoking or revoke_failed lease.</summary>
    public static bool NothingLeftToRevoke(IReadOnlyDictionary<LeaseState, long> counts) =>
        counts.GetValueOrDefault(LeaseState.Active) + counts.GetValueOrDefault(LeaseState.Revoking) + counts.GetValueOrDefault(LeaseState.RevokeFailed) == 0;

    /// <summary>Every lease the ledger remembers (all pages of <see cref="ILeaseQueries.ListAsync"/>).</summary>
    public async Task<List<Lease>> AllLeasesAsync(CancellationToken cancellationToken = default)
    {
        var all = new List<Lease>();
        string? token = null;
        do
        {
            var page = await Store.ListAsync(new LeaseQuery { PageSize = 1000, PageToken = token }, cancellationToken);
            all.AddRange(page.Leases);
            token = page.NextPageToken;
        }
        while (token is not null);
        return all;
    }

    /// <summary>
    /// Half-written leases: a lease must be found by id, by its task (the store's own read paths), and — unless revoked —
    /// in the revocation schedule (the due set) and, when revoking or failed, in its state index (read from the
    /// single-bucket key layout this ledger uses, docs/redis.md). So a lease missing from the schedule, or a record
    /// missing from an index, is reported. Empty when every lease is whole.
    /// </summary>
    public async Task<List<string>> HalfWrittenAsync(CancellationToken cancellationToken = default)
    {
        var all = await AllLeasesAsync(cancellationToken);
        var problems = new List<string>();
        foreach (var lease in all)
        {
            if (lease.State != LeaseState.Revoked && !await InZsetAsync(KeyPrefix + "due", lease.LeaseId, cancellationToken))
            {
                problems.Add($"{lease.LeaseId}: {lease.State} but not in the schedule");
            }

            if (lease.State is LeaseState.Revoking or LeaseState.RevokeFailed
                && !await InZsetAsync(KeyPrefix + (lease.State == LeaseState.Revoking ? "state:revoking" : "state:failed"), lease.LeaseId, cancellationToken))
            {
                problems.Add($"{lease.LeaseId}: {lease.State} but not in its state index");
            }

            if (!(await Store.ListByTaskAsync(lease.AgentId, lease.TaskId, cancellationToken)).Any(l => l.LeaseId == lease.LeaseId))
            {
                problems.Add($"{lease.LeaseId}: not in its task's index");
            }
        }

        return problems;
    }

    private async Task<bool> InZsetAsync(string key, string member, CancellationToken cancellationToken) =>
        !(await Redis.ExecuteAsync("ZSCORE", [key, member], cancellationToken)).IsNull;

    /// <summary>One INFO section as name → value.</summary>
    public async Task<IReadOnlyDictionary<string, string>> InfoAsync(string section, CancellationToken cancellationToken = default)
    {
        var text = (await Redis.ExecuteAsync("INFO", [section], cancellationToken)).AsString() ?? "";
        return text.Split("\r\n")
            .Where(l => l.Length > 0 && l[0] != '#' && l.Contains(':', StringComparison.Ordinal))
            .Select(l => l.Split(':', 2))
            .ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
    }

    public async Task<long> UsedMemoryAsync(CancellationToken cancellationToken = default) =>
        long.Parse((await InfoAsync("memory", cancellationToken))["used_memory"], CultureInfo.InvariantCulture);

    /// <summary>
    /// Commands Redis has run so far, those called inside scripts included (INFO commandstats), except PING — the
    /// readiness probe's, whose number only says how long someone polled.
    /// </summary>
    public async Task<long> CommandCallsAsync(CancellationToken cancellationToken = default) =>
        (await InfoAsync("commandstats", cancellationToken))
            .Where(s => s.Key is not "cmdstat_ping")
            .Sum(s => long.Parse(s.Value.Split(',')[0]["calls=".Length..], CultureInfo.InvariantCulture));

    /// <summary>Bytes Redis has sent to all clients so far (INFO stats total_net_output_bytes).</summary>
    public async Task<long> BytesSentAsync(CancellationToken cancellationToken = default) =>
        long.Parse((await InfoAsync("stats", cancellationToken))["total_net_output_bytes"], CultureInfo.InvariantCulture);

    /// <summary>Nearest-rank percentile of a sorted list.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];

    public ValueTask DisposeAsync() => Redis.DisposeAsync();
}
