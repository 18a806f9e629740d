using System.Collections.Concurrent;
using System.Diagnostics;
using JitBroker.Cli;
using JitBroker.Protocol.V1;
using Grpc.Core;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Issue 7: the kill switch while requests are in flight. Many agents' workers keep requesting credentials over
/// gRPC while an operator blocks the agent; once BlockAgent has returned, no request that starts afterwards gets
/// a credential, and every credential the agent ever received — including ones whose response arrived after
/// the block returned — is dead.
/// </summary>
[NonParallelizable]
public sealed class KillSwitchTests
{
    private const int Workers = 24;

    [Test]
    public async Task No_live_credential_survives_a_block_issued_during_concurrent_requests()
    {
        using var policy = new PolicyDirectory().Write("10-agents.yaml", E2E.AnyAgentTicketsPolicy);
        await using var broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Admin:Principals:0"] = E2E.AdminPattern,
            ["JitBroker:Policy:Path"] = policy.Path,
        });
        using var client = broker.Client();
        using var admin = E2E.Admin(broker);
        var rogue = E2E.Agent("rogue");
        var bystander = E2E.Agent("bystander");
        var clock = Stopwatch.StartNew();
        long blockReturnedTicks = long.MaxValue; // read by the workers while the test writes it
        var received = new ConcurrentBag<(RequestCredentialResponse Response, TimeSpan StartedAt, TimeSpan EndedAt)>();
        var refusals = new ConcurrentBag<(string? Reason, TimeSpan StartedAt)>();
        var issuedBeforeBlock = new SemaphoreSlim(0);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        async Task WorkAsync(int worker)
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var startedAt = clock.Elapsed;
                try
                {
                    var response = await client.RequestCredentialAsync(broker.Svid(rogue), E2E.Tickets($"ks-{worker}-{i}"));
                    received.Add((response, startedAt, clock.Elapsed));
                    issuedBeforeBlock.Release();
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.PermissionDenied)
                {
                    refusals.Add((E2E.Reason(e), startedAt));
                    // Keep hammering for a moment after the block to catch any late issuance.
                    var blockedAt = Volatile.Read(ref blockReturnedTicks);
                    if (blockedAt != long.MaxValue && startedAt.Ticks > blockedAt + TimeSpan.FromMilliseconds(300).Ticks)
                    {
                        return;
                    }
                }
            }
        }

        var workers = Enumerable.Range(0, Workers).Select(w => Task.Run(() => WorkAsync(w))).ToArray();
        var bystanderLease = await E2E.IssueAsync(broker, client, bystander, "ks-bystander");

        // Block while requests are demonstrably in flight: some credentials have already been issued.
        for (var i = 0; i < 2 * Workers; i++)
        {
            Assert.That(await issuedBeforeBlock.WaitAsync(TimeSpan.FromSeconds(20)), Is.True, "workers get credentials before the block");
        }

        var blockCalledAt = clock.Elapsed;
        var block = await admin.BlockAsync(new BlockAgentRequest { Pattern = rogue, Reason = "kill switch test" });
        var blockReturnedAt = clock.Elapsed;
        Volatile.Write(ref blockReturnedTicks, blockReturnedAt.Ticks);
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(received, Has.Count.GreaterThanOrEqualTo(2 * Workers));
        Assert.That(received.Count(r => r.StartedAt < blockReturnedAt && r.EndedAt > blockCalledAt)
            + refusals.Count(r => r.StartedAt < blockReturnedAt), Is.GreaterThan(0), "some requests were in flight while BlockAgent ran");
        Assert.That(block.Revocations.Scheduled, Is.GreaterThan(0), "the block scheduled leases that were live");
        Assert.That(received.Where(r => r.StartedAt > blockReturnedAt).Select(r => r.Response.LeaseId), Is.Empty,
            "no request that started after BlockAgent returned got a credential");
        Assert.That(refusals.Where(r => r.StartedAt > blockReturnedAt).Select(r => r.Reason), Is.Not.Empty.And.All.EqualTo("agent.blocked"));

        var introspector = broker.Svid(BrokerServerFixture.ResourceServer);
        var stillActive = new List<string>();
        foreach (var (response, _, _) in received)
        {
            if ((await client.IntrospectAsync(introspector, response.Credential.Token)).Active)
            {
                stillActive.Add(response.LeaseId);
            }
        }

        Assert.That(stillActive, Is.Empty, "every credential the blocked agent received is dead");
        var progress = await admin.GetRevocationProgressAsync(block.Revocations.RevocationId);
        for (var waited = Stopwatch.StartNew(); !progress.Done && waited.Elapsed < TimeSpan.FromSeconds(20); await Task.Delay(50))
        {
            progress = await admin.GetRevocationProgressAsync(block.Revocations.RevocationId);
        }

        Assert.That(progress.Done, Is.True, $"the sweepers revoked the scheduled leases: {progress}");
        var leases = await E2E.LeasesOfAsync(admin, rogue);
        Assert.That(leases.Where(l => l.State != "revoked").Select(l => $"{l.LeaseId}:{l.State}"), Is.Empty, "no lease of the agent is left unrevoked");
        Assert.That(leases.Select(l => l.LeaseId), Is.SupersetOf(received.Select(r => r.Response.LeaseId)));
        Assert.That(await E2E.IsActiveAsync(broker, client, bystanderLease.Credential.Token), Is.True, "another agent is untouched");
    }
}
