using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using JitBroker.Attestation;
using JitBroker.Leases.Redis;
using JitBroker.Protocol.V1;
using JitBroker.Redis;

namespace JitBroker.PerfHarness;

internal sealed record KillSwitchResult(
    int Leases, int Sampled, double BlockCallMs, double AllSampledInactiveMs, double AllRevokedMs, double AuditedMs, long Revoked, long Failing, int InactiveSamples);

/// <summary>
/// Issue 13's numbers: an agent holds <c>leases</c> JWT leases (<c>sampled</c> of them real credentials, the rest
/// written straight into the ledger); the operator blocks it. Measured from the moment the block call starts: the
/// call itself, the moment every sampled credential is refused by IntrospectCredential (p100 over the sample,
/// 16 introspection workers polling), every lease revoked in Redis (the batch's progress), and every
/// <c>lease.revoked</c> in the audit file (FsyncPolicy=Always). One broker replica, default sweep settings.
/// </summary>
internal static class KillSwitchBench
{
    private const string Operator = "spiffe://dev.jitbroker.local/humans/alice";

    public static async Task<KillSwitchResult> RunAsync(HarnessOptions options, IRedisConnection redis, string dataDirectory, DevTrustDomain dev, int leases, int sampled)
    {
        await RedisAdmin.FlushAsync(redis).ConfigureAwait(false);
        var audit = BrokerProcess.AuditPath(dataDirectory, "killswitch");
        await using var broker = await BrokerProcess.StartAsync(options, dataDirectory, new Dictionary<string, string>
        {
            ["JitBroker:Admin:Principals:0"] = Operator,
            ["JitBroker:Introspection:ResourceServers:0"] = "spiffe://dev.jitbroker.local/tools/tickets",
            ["JitBroker:Audit:Path"] = audit,
        }, "broker-killswitch").ConfigureAwait(false);
        using var agentChannel = GrpcChannel.ForAddress(broker.GrpcUri);
        using var adminChannel = GrpcChannel.ForAddress(broker.AdminUri);
        var agents = new CredentialBroker.CredentialBrokerClient(agentChannel);
        var admin = new BrokerAdmin.BrokerAdminClient(adminChannel);
        using var client = new AgentClient(broker.GrpcUri);

        var tokens = await Task.WhenAll(Enumerable.Range(0, sampled).Select(async i =>
            (await client.RequestAsync(dev.MintSvid(LeaseFactory.AgentId, "jitbroker", TimeSpan.FromMinutes(30)), $"ks-{i}").ConfigureAwait(false)).Credential.Token))
            .ConfigureAwait(false);
        var store = new RedisLeaseStore(redis, "jitbroker:");
        var now = TimeProvider.System.GetUtcNow();
        await LeaseSeeder.SeedAsync(store, leases - sampled, _ => now + TimeSpan.FromMinutes(10), now).ConfigureAwait(false);

        var introspector = Auth(dev.MintSvid("spiffe://dev.jitbroker.local/tools/tickets", "jitbroker", TimeSpan.FromMinutes(30)));
        var pending = new ConcurrentQueue<string>(tokens);
        var inactiveAt = new ConcurrentBag<double>();
        var clock = new Stopwatch();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var samplers = Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested && pending.TryDequeue(out var token))
            {
                var answer = await agents.IntrospectCredentialAsync(new IntrospectCredentialRequest { Token = token }, introspector).ConfigureAwait(false);
                if (answer.Active)
                {
                    pending.Enqueue(token);
                }
                else
                {
                    inactiveAt.Add(clock.Elapsed.TotalMilliseconds);
                }
            }
        })).ToArray();

        // The broker accepts each admin token once: a fresh one per call.
        CallOptions Op() => Auth(dev.MintSvid(Operator, "jitbroker", TimeSpan.FromMinutes(30)));
        clock.Start();
        var block = await admin.BlockAgentAsync(new BlockAgentRequest { Pattern = LeaseFactory.AgentId, Reason = "perf: kill switch" }, Op()).ConfigureAwait(false);
        var blockMs = clock.Elapsed.TotalMilliseconds;
        await Task.WhenAll(samplers).ConfigureAwait(false);
        RevocationProgress progress;
        do
        {
            progress = await admin.GetRevocationProgressAsync(new GetRevocationProgressRequest { RevocationId = block.Revocations.RevocationId }, Op()).ConfigureAwait(false);
        }
        while (!progress.Done && clock.Elapsed < TimeSpan.FromSeconds(120) && await Delay().ConfigureAwait(false));

        var revokedMs = clock.Elapsed.TotalMilliseconds;
        var target = progress.Total;
        while (CountRevokedEvents(audit) < target && clock.Elapsed < TimeSpan.FromSeconds(120))
        {
            await Task.Delay(5).ConfigureAwait(false);
        }

        var auditedMs = clock.Elapsed.TotalMilliseconds;
        return new KillSwitchResult(leases, sampled, blockMs, inactiveAt.IsEmpty ? double.NaN : inactiveAt.Max(), revokedMs, auditedMs, progress.Revoked, progress.Failing,
            inactiveAt.Count);
    }

    private static async Task<bool> Delay()
    {
        await Task.Delay(5).ConfigureAwait(false);
        return true;
    }

    private static long CountRevokedEvents(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        long n = 0;
        while (reader.ReadLine() is { } line)
        {
            n += line.Contains("\"type\":\"lease.revoked\"", StringComparison.Ordinal) ? 1 : 0;
        }

        return n;
    }

    private static CallOptions Auth(string svid)
    {
        var headers = new Metadata { { "authorization", "Bearer " + svid } };
        return new CallOptions(headers, TimeProvider.System.GetUtcNow().UtcDateTime + TimeSpan.FromSeconds(30));
    }
}
