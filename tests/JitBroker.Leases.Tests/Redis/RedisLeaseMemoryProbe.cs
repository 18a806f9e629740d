using System.Globalization;
using JitBroker.Core;
using JitBroker.Leases.Redis;
using JitBroker.Redis;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Redis;

/// <summary>
/// Measures Redis memory per active lease (INFO used_memory before and after). Explicit: a measurement, not a
/// check — run with <c>dotnet test --filter FullyQualifiedName~RedisLeaseMemoryProbe</c>; LEASES sets the count.
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
        var store = new RedisLeaseStore(redis, "jitbroker:");
        var t0 = new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
        var before = await UsedMemoryAsync(redis);

        for (var start = 0; start < count; start += 1000)
        {
            await Task.WhenAll(Enumerable.Range(start, Math.Min(1000, count - start)).Select(i =>
            {
                var id = LeaseIds.New();
                return store.PutAsync(new Lease
                {
                    LeaseId = id,
                    TaskId = $"task-{i / 4:x8}", // four credentials per task
                    AgentId = $"spiffe://prod.example.org/ns/agents/sa/coder-{i / 4 % 500}",
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
        await TestContext.Out.WriteLineAsync($"{count} active leases: {after - before} bytes, {perLease:0} bytes per lease");
        var sample = (await redis.ExecuteAsync("ZRANGE", ["jitbroker:due", 0, 0])).AsArray()[0].AsString();
        foreach (var key in new[] { $"jitbroker:lease:{{{sample}}}", "jitbroker:due", "jitbroker:ids" })
        {
            var bytes = (await redis.ExecuteAsync("MEMORY", ["USAGE", key, "SAMPLES", 0])).AsInt64();
            await TestContext.Out.WriteLineAsync($"  {key}: {bytes} bytes ({bytes / (double)count:0.0} per lease)");
        }

        var keys = (await redis.ExecuteAsync("DBSIZE", [])).AsInt64();
        await TestContext.Out.WriteLineAsync($"  keys: {keys}");
        Assert.That((await store.CountByStateAsync())[LeaseState.Active], Is.EqualTo(count));
    }

    private static async Task<long> UsedMemoryAsync(RedisConnection redis)
    {
        var info = (await redis.ExecuteAsync("INFO", ["memory"])).AsString()!;
        var line = info.Split("\r\n").First(l => l.StartsWith("used_memory:", StringComparison.Ordinal));
        return long.Parse(line["used_memory:".Length..], CultureInfo.InvariantCulture);
    }
}
