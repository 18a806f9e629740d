using System.Globalization;
using Grpc.Core;
using JitBroker.Cli;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Issue 22 item 2 over the wire: a re-presented JWT-SVID is answered by the verified-token cache (counted on /metrics),
/// and the replay rules still run on every request after it. (Strict single use after a cache hit: AdminReplayTests.)
/// </summary>
[NonParallelizable]
public sealed class VerifiedTokenCacheE2ETests
{
    private PolicyDirectory _policy = null!;
    private BrokerServerFixture _broker = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _policy = new PolicyDirectory().Write("10-agents.yaml", E2E.AnyAgentTicketsPolicy);
        _broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?> { ["JitBroker:Policy:Path"] = _policy.Path });
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _broker.DisposeAsync();
        _policy.Dispose();
    }

    [Test]
    public async Task A_re_presented_svid_is_a_cache_hit_for_its_task_and_still_a_replay_for_another_task()
    {
        using var client = new BrokerClient(_broker.GrpcUri);
        var svid = _broker.Svid(E2E.Agent("cache-e2e"));
        var hitsBefore = await HitsAsync();

        await client.RequestCredentialAsync(svid, E2E.Tickets("cache-task-1"));
        await client.RequestCredentialAsync(svid, E2E.Tickets("cache-task-1", tool: "crm"));
        await client.RequestCredentialAsync(svid, E2E.Tickets("cache-task-1"));
        var replay = Assert.ThrowsAsync<RpcException>(() => client.RequestCredentialAsync(svid, E2E.Tickets("cache-task-2")));

        Assert.That((replay!.StatusCode, E2E.Reason(replay)), Is.EqualTo((StatusCode.Unauthenticated, "token.replayed")));
        // /metrics answers from a short-lived scrape cache, so the count is polled until the export catches up.
        Assert.That(await Eventually.TrueAsync(async () => await HitsAsync() - hitsBefore == 3, TimeSpan.FromSeconds(10)), Is.True,
            "every presentation after the first was answered by the cache");
    }

    /// <summary>jitbroker.attestation.token_cache.lookups{method="jwt-svid",outcome="hit"} as /metrics exports it.</summary>
    private async Task<long> HitsAsync()
    {
        using var http = new HttpClient();
        var text = await http.GetStringAsync(new Uri(_broker.HttpUri, "/metrics"));
        var line = text.Split('\n').SingleOrDefault(l => l.StartsWith("jitbroker_attestation_token_cache_lookups", StringComparison.Ordinal)
            && l.Contains("method=\"jwt-svid\"", StringComparison.Ordinal) && l.Contains("outcome=\"hit\"", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }
}
