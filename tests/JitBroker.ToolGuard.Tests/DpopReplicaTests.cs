using System.Net;
using System.Security.Cryptography;
using JitBroker.OAuth;
using JitBroker.Redis.Tests.Harness;
using JitBroker.ToolGuard.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace JitBroker.ToolGuard.Tests;

/// <summary>
/// Two replicas of one tool (same public URL, as behind a balancer) with <see cref="DpopReplayCacheMode.Distributed"/> over
/// a real redis-server: a DPoP proof accepted by one is refused by the other. Without it, each replica would take it once.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class DpopReplicaTests
{
    private const string PublicUrl = "https://tickets.internal.example";

    [TestCase(DpopReplayCacheMode.Distributed, HttpStatusCode.Unauthorized)]
    [TestCase(DpopReplayCacheMode.Memory, HttpStatusCode.OK)]
    public async Task A_proof_used_at_one_replica_is_refused_at_the_other_only_with_the_distributed_cache(DpopReplayCacheMode mode, HttpStatusCode replayed)
    {
        await using var redis = await RedisServerProcess.StartServerAsync();
        await using var broker = await Broker.StartAsync();
        void Configure(ToolGuardOptions o)
        {
            o.Issuer = broker.Issuer;
            o.WorkloadToken = broker.ToolSvidAsync;
            o.UseReports.Enabled = false;
            o.PublicBaseUrl = PublicUrl;
            o.DpopReplayCache = mode;
        }

        void Redis(IServiceCollection services) => services.AddStackExchangeRedisCache(r => r.Configuration = redis.Endpoint);
        await using var first = await ToolServer.StartAsync(Configure, services: Redis);
        await using var second = await ToolServer.StartAsync(Configure, services: Redis);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var token = await broker.TokenAsync(Broker.Agent("replicas"), dpopKey: key);
        var proof = Dpop.Proof(key, "GET", PublicUrl + "/tickets/42", token);
        using var http = new HttpClient();

        using var accepted = await http.SendAsync(Challenges.Get(first.BaseUrl + "/tickets/42", "DPoP", token, proof));
        using var again = await http.SendAsync(Challenges.Get(second.BaseUrl + "/tickets/42", "DPoP", token, proof));
        Assert.That(accepted.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(again.StatusCode, Is.EqualTo(replayed));
        if (replayed == HttpStatusCode.Unauthorized)
        {
            Assert.That(Challenges.Reason(again), Is.EqualTo(OAuthReasons.DpopProofReplayed));
        }
    }

    [Test]
    public void Distributed_without_an_IDistributedCache_does_not_start()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddJitBrokerToolGuard(o =>
        {
            o.Issuer = "https://broker.example";
            o.Resource = PublicUrl;
            o.WorkloadToken = _ => Task.FromResult("svid");
            o.DpopReplayCache = DpopReplayCacheMode.Distributed;
        });
        using var provider = services.BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(() => _ = provider.GetRequiredService<IOptions<ToolGuardOptions>>().Value);
        Assert.That(error!.Message, Does.Contain("IDistributedCache"));
    }
}
