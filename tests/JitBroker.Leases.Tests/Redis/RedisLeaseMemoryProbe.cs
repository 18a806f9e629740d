using System.Globalization;
using JitBroker.Core;
using JitBroker.Leases.Redis;
using JitBroker.Redis;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Redis;

/// <summary>
/// Measures Redis memory per active lease (INFO used_memory before and after). Explicit: a measurement, not a
/// check — run with <c>dotnet test --filter FullyQualifiedName~RedisLeaseMemoryProbe</c>; LEASES sets the count,
/// BUCKETS the ledger's buckets (1 = the single-Redis layout; 16 = the Cluster layout, here on one server).
/// </summary>
[TestFixture]
[Explicit("measurement, run on demand")]
public sealed class RedisLeaseMemoryProbe
{
    [Test]
    public async Task Bytes_per_active_lease()
    {
        var count = int.Parse(Environment.GetEnvironmentVariable("LEASES") ?? "100000", CultureInfo.InvariantCulture);
        await using var server = await RedisServerProcess.StartServerAsync();
        await using var redis = new RedisConnection(new RedisOptions { Endpoint = server.Endpoint, AllowAdminCommands = true });
        var layout = new RedisKeyLayout("jitbroker:", int.Parse(Environment.GetEnvironmentVariable("BUCKETS") ?? "1", CultureInfo.InvariantCulture));
        var store = new RedisLeaseStore(redis, layout, InMemoryLeaseStore.DefaultRevokedRetention);
        var t0 = new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
        var before = await UsedMemoryAsync(redis);

        for (var start = 0; start < count; start += 1000)
        {
            await Task.WhenAll(Enumerable.Range(start, Math.Min(1000, count - start)).Select(i =>
            {
                var (task, agent) = ($"task-{i / 4:x8}", $"spiffe://prod.example.org/ns/agents/sa/coder-{i / 4 % 500}"); // four credentials per task
                var id = LeaseIds.New(LeaseIds.PlacementFor(agent, task)); // placed as the broker places them
                return store.PutAsync(new Lease
                {
                    LeaseId = id,
                    TaskId = task,
                    AgentId = agent,
                    IssuerKind = "jwt",
                    BackendHandle = id,
                    Scope = new GrantedScope("https://git.example.com", "read", ["git.clone", "git.fetch"], ["repo:acme/app"]),
                    IssuedAt = t0,
                    ExpiresAt = t0 + TimeSpan.FromMinutes(5) + TimeSpan.FromMilliseconds(i),
                    RuleIds = ["repo-read"],
                    CredentialFingerprint = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(i))),
                    AgentFacts = new Dictionary<string, string> { ["td"] = "prod.example.org", ["method"] = "jwt-svid" },
                });
            }));
        }

        var after = await UsedMemoryAsync(redis);
        var perLease = (after - before) / (double)count;
        await TestContext.Out.WriteLineAsync($"{count} active leases, {layout.Buckets} bucket(s): {after - before} bytes, {perLease:0} bytes per lease");
        var b0 = layout.BucketPrefix(0);
        var sample = (await redis.ExecuteAsync("ZRANGE", [(StackExchange.Redis.RedisKey)(b0 + "due"), 0, 0])).AsArray()[0].AsString();
        var inBucket = (await redis.ExecuteAsync("ZCARD", [(StackExchange.Redis.RedisKey)(b0 + "due")])).AsInt64();
        foreach (var key in new[] { $"{b0}lease:{{{sample}}}", b0 + "due", b0 + "ids" })
        {
            var bytes = (await redis.ExecuteAsync("MEMORY", ["USAGE", (StackExchange.Redis.RedisKey)key, "SAMPLES", 0])).AsInt64();
            await TestContext.Out.WriteLineAsync($"  {key}: {bytes} bytes ({bytes / (double)inBucket:0.0} per lease of the bucket)");
        }

        var keys = (await redis.ExecuteAsync("DBSIZE", [])).AsInt64();
        await TestContext.Out.WriteLineAsync($"  keys: {keys}");
        Assert.That((await store.CountByStateAsync())[LeaseState.Active], Is.EqualTo(count));
    }

    /// <summary>
    /// What the decided intent (issue 16 item 9) adds to one lease hash: MEMORY USAGE of the same lease without it,
    /// with a typical one (a short purpose and the one context key a condition reads), and with a long purpose.
    /// </summary>
    [Test]
    public async Task Extra_bytes_of_the_decided_intent()
    {
        await using var server = await RedisServerProcess.StartServerAsync();
        await using var redis = new RedisConnection(new RedisOptions { Endpoint = server.Endpoint, AllowAdminCommands = true });
        var store = new RedisLeaseStore(redis, new RedisKeyLayout("jitbroker:", 1), InMemoryLeaseStore.DefaultRevokedRetention);
        var t0 = new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
        var intents = new (string Name, DecidedIntent Intent)[]
        {
            ("none", DecidedIntent.None),
            ("typical", new DecidedIntent { Purpose = "triage ticket 4711 for a refund", Context = new Dictionary<string, string> { ["data_sensitivity"] = "2" } }),
            ("long purpose", new DecidedIntent { Purpose = new string('p', 120), Context = new Dictionary<string, string> { ["data_sensitivity"] = "2" } }),
            ("long purpose, hash-max-listpack-value 256", new DecidedIntent { Purpose = new string('p', 120), Context = new Dictionary<string, string> { ["data_sensitivity"] = "2" } }),
        };

        var bytes = new List<long>();
        foreach (var (name, intent) in intents)
        {
            if (name.Contains("256", StringComparison.Ordinal))
            {
                await redis.ExecuteAsync("CONFIG", ["SET", "hash-max-listpack-value", "256"]);
            }

            const string Agent = "spiffe://prod.example.org/ns/agents/sa/coder-17";
            var id = LeaseIds.New(LeaseIds.PlacementFor(Agent, "task-0000002a"));
            await store.PutAsync(new Lease
            {
                LeaseId = id, TaskId = "task-0000002a", AgentId = Agent, IssuerKind = "jwt", BackendHandle = id,
                Scope = new GrantedScope("https://git.example.com", "read", ["git.clone", "git.fetch"], ["repo:acme/app"]),
                IssuedAt = t0, ExpiresAt = t0 + TimeSpan.FromMinutes(5), RuleIds = ["repo-read"],
                CredentialFingerprint = "sha256:" + new string('a', 64),
                AgentFacts = new Dictionary<string, string> { ["td"] = "prod.example.org", ["method"] = "jwt-svid" },
                DecidedIntent = intent,
            });
            var key = (StackExchange.Redis.RedisKey)$"jitbroker:lease:{{{id}}}";
            var usage = (await redis.ExecuteAsync("MEMORY", ["USAGE", key, "SAMPLES", 0])).AsInt64();
            var encoding = (await redis.ExecuteAsync("OBJECT", ["ENCODING", key])).AsString();
            bytes.Add(usage);
            await TestContext.Out.WriteLineAsync($"{name}: {usage} bytes ({encoding}), {usage - bytes[0]:+0;-0;0} against none");
        }

        Assert.That(bytes[1], Is.GreaterThan(bytes[0]), "the intent is stored");
    }

    private static async Task<long> UsedMemoryAsync(RedisConnection redis)
    {
        var info = (await redis.ExecuteAsync("INFO", ["memory"])).AsString()!;
        var line = info.Split("\r\n").First(l => l.StartsWith("used_memory:", StringComparison.Ordinal));
        return long.Parse(line["used_memory:".Length..], CultureInfo.InvariantCulture);
    }
}
