using System.Globalization;
using System.Security.Cryptography;
using JitBroker.Core;
using JitBroker.Leases.Redis;
using JitBroker.Redis;

namespace JitBroker.PerfHarness;

/// <summary>Leases shaped like the ones the broker writes for the sample policy's support-bot grant.</summary>
internal static class LeaseFactory
{
    public const string AgentId = "spiffe://dev.jitbroker.local/agents/support-bot";

    private static readonly GrantedScope Scope = new("https://tickets.internal.example", "tickets.create", ["zendesk"], ["tickets/1"]);

    private static readonly IReadOnlyDictionary<string, string> Facts = new Dictionary<string, string>
    {
        ["trust_domain"] = "dev.jitbroker.local",
        ["method"] = "jwt-svid",
        ["spiffe_id"] = AgentId,
        ["path"] = "/agents/support-bot",
    };

    public static Lease Jwt(string taskId, DateTimeOffset issuedAt, DateTimeOffset expiresAt)
    {
        // A task's leases share a placement, as the broker places them (one bucket per task on a cluster).
        var leaseId = LeaseIds.New(LeaseIds.PlacementFor(AgentId, taskId));
        return new Lease
        {
            LeaseId = leaseId,
            TaskId = taskId,
            AgentId = AgentId,
            IssuerKind = "jwt",
            BackendHandle = leaseId,
            Scope = Scope,
            IssuedAt = issuedAt,
            ExpiresAt = expiresAt,
            DueAt = expiresAt,
            RuleIds = ["support-bot-tickets"],
            CredentialFingerprint = "sha256:" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
            AgentFacts = Facts,
        };
    }
}

/// <summary>Writes many leases through the real <see cref="RedisLeaseStore"/>, pipelined.</summary>
internal static class LeaseSeeder
{
    /// <summary>Writes <paramref name="count"/> leases, four per task, with <paramref name="inFlight"/> writes outstanding; returns their ids.</summary>
    public static async Task<string[]> SeedAsync(RedisLeaseStore store, int count, Func<int, DateTimeOffset> expiresAt, DateTimeOffset now,
        int inFlight = 256, CancellationToken cancellationToken = default)
    {
        var ids = new string[count];
        var next = -1;
        var run = Guid.NewGuid().ToString("N")[..8];
        var workers = Enumerable.Range(0, inFlight).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var lease = LeaseFactory.Jwt($"seed-{run}-{i / 4}", now, expiresAt(i));
                await store.PutAsync(lease, cancellationToken).ConfigureAwait(false);
                ids[i] = lease.LeaseId;
            }
        });
        await Task.WhenAll(workers).ConfigureAwait(false);
        return ids;
    }
}

/// <summary>Small administrative reads and writes on the harness's own Redis.</summary>
internal static class RedisAdmin
{
    public static async Task FlushAsync(IRedisConnection redis) => await redis.ExecuteAsync("FLUSHDB", []).ConfigureAwait(false);

    public static async Task<long> UsedMemoryAsync(IRedisConnection redis) =>
        long.Parse(InfoField((await redis.ExecuteAsync("INFO", ["memory"]).ConfigureAwait(false)).AsString()!, "used_memory"), CultureInfo.InvariantCulture);

    public static async Task<string> VersionAsync(IRedisConnection redis) =>
        InfoField((await redis.ExecuteAsync("INFO", ["server"]).ConfigureAwait(false)).AsString()!, "redis_version");

    public static async Task<long> CardAsync(IRedisConnection redis, string zsetKey) =>
        (await redis.ExecuteAsync("ZCARD", [zsetKey]).ConfigureAwait(false)).AsInt64();

    /// <summary>Commands Redis has executed so far, by command (INFO commandstats), to count round trips per request.</summary>
    public static async Task<Dictionary<string, long>> CommandCallsAsync(IRedisConnection redis) =>
        ParseCommandStats((await redis.ExecuteAsync("INFO", ["commandstats"]).ConfigureAwait(false)).AsString()!);

    /// <summary>
    /// Commands run between two <see cref="CommandCallsAsync"/> snapshots per unit of work (INFO, the snapshots' own, left
    /// out), rounded to <paramref name="digits"/>; commands that round to zero are dropped.
    /// </summary>
    public static Dictionary<string, double> CommandsPer(Dictionary<string, long> before, Dictionary<string, long> after, double units, int digits) =>
        after.Where(c => c.Key != "info")
            .Select(c => (c.Key, PerUnit: Math.Round((c.Value - before.GetValueOrDefault(c.Key)) / Math.Max(1, units), digits)))
            .Where(c => c.PerUnit > 0)
            .ToDictionary(c => c.Key, c => c.PerUnit, StringComparer.Ordinal);

    /// <summary>Parses INFO commandstats: calls by command.</summary>
    public static Dictionary<string, long> ParseCommandStats(string info)
    {
        var calls = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in info.Split('\n'))
        {
            // cmdstat_evalsha:calls=123,usec=...
            if (line.StartsWith("cmdstat_", StringComparison.Ordinal) && line.IndexOf(":calls=", StringComparison.Ordinal) is var at and > 0)
            {
                var end = line.IndexOf(',', at);
                calls[line[8..at]] = long.Parse(line[(at + 7)..end], CultureInfo.InvariantCulture);
            }
        }

        return calls;
    }

    private static string InfoField(string info, string name)
    {
        foreach (var line in info.Split('\n'))
        {
            if (line.StartsWith(name + ":", StringComparison.Ordinal))
            {
                return line[(name.Length + 1)..].Trim();
            }
        }

        throw new InvalidOperationException($"INFO has no field '{name}'.");
    }
}
