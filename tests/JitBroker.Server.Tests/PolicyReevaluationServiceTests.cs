using JitBroker.Audit;
using JitBroker.Core;
using JitBroker.Issuance;
using JitBroker.Leases;
using JitBroker.Policy;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moq;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Issue 16 item 7: policy-reload re-evaluation is owned by the host. Shutdown waits for a pass in flight, and its
/// audit records land before the audit log closes. Built as BrokerServices builds it: the real audit log (in-memory
/// sink) registered before the service, the real in-memory lease store; only the listing is held back, as a slow
/// Redis call would be, until shutdown has begun.
/// </summary>
[NonParallelizable]
[CancelAfter(30_000)]
public sealed class PolicyReevaluationServiceTests
{
    private const string Allows = """
        version: 1
        rules:
          - id: tickets
            effect: allow
            principals: { trust_domains: [example.org] }
            actions: ["tickets.create"]
            credential: { kind: jwt, audiences: ["aud"], max_ttl: 10m }
        """;

    private const string AllowsNothing = "version: 1\nrules: []\n";

    private static readonly DateTimeOffset Now = TimeProvider.System.GetUtcNow();

    private static Lease ActiveLease() => new()
    {
        LeaseId = LeaseIds.New(),
        TaskId = "t1",
        AgentId = "spiffe://example.org/agents/a",
        IssuerKind = "jwt",
        BackendHandle = "jti-1",
        Scope = new GrantedScope("aud", "tickets.create", [], []),
        IssuedAt = Now,
        ExpiresAt = Now + TimeSpan.FromMinutes(5),
        CredentialFingerprint = "sha256:" + new string('b', 64),
        AgentFacts = new Dictionary<string, string> { [AgentFacts.TrustDomainKey] = "example.org", [AgentFacts.MethodKey] = "test" },
    };

    [Test]
    public async Task A_re_evaluation_in_flight_at_shutdown_is_finished_and_audited_before_the_audit_log_closes()
    {
        var dir = Directory.CreateTempSubdirectory("jitbroker-reeval-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "policy.yaml"), Allows);
            using var engine = new ReloadingPolicyEngine(dir.FullName, TimeSpan.Zero);
            var store = new InMemoryLeaseStore();
            var lease = ActiveLease();
            await store.PutAsync(lease);
            var sink = new InMemoryAuditSink();
            var listing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var host = BuildHost(engine, store, sink, listing);
            await host.StartAsync();

            File.WriteAllText(Path.Combine(dir.FullName, "policy.yaml"), AllowsNothing);
            Assert.That((await engine.ReloadNowAsync()).Changed, Is.True);
            await listing.Task; // the pass is in flight, held in the lease listing
            await host.StopAsync();

            var records = sink.Records;
            var scheduled = records.SingleOrDefault(r => r.Type == AuditEventTypes.RevocationScheduled);
            Assert.That(scheduled, Is.Not.Null, "the pass in flight was finished and audited");
            Assert.That(scheduled!.Seq, Is.LessThan(records[^1].Seq).And.LessThan(records.Last(r => r.IsCheckpoint).Seq),
                "written before the log's closing checkpoint");
            var due = await store.ClaimDueAsync(TimeProvider.System.GetUtcNow(), 10, TimeSpan.FromSeconds(30));
            Assert.That(due.Select(l => l.LeaseId), Is.EqualTo(new[] { lease.LeaseId }), "the lease the new policy no longer grants is due for revocation now");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static IHost BuildHost(ReloadingPolicyEngine engine, InMemoryLeaseStore store, InMemoryAuditSink sink, TaskCompletionSource listing)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        var services = builder.Services;
        services.AddLogging();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ISigningKeyProvider>(_ => new StaticSigningKeyProvider(SigningKey.Generate()));
        services.AddSingleton(sp => new AuditSigningKeys(new StaticSigningKeyProvider(SigningKey.Generate()), sp.GetRequiredService<ISigningKeyProvider>()));
        services.AddSingleton<IAuditSink>(sink);
        services.AddJitBrokerAudit(new AuditOptions { Path = Path.Combine(Path.GetTempPath(), "unused-audit.jsonl") });
        services.AddSingleton(engine);
        services.AddSingleton(new PolicyOptions { Path = "unused", RevokeOnReload = true });

        // The listing answers only once the token it was given (the host's stopping token, passed all the way down) is
        // cancelled: a Redis call already sent, whose reply arrives during shutdown.
        var leases = new Mock<ILeaseQueries>(MockBehavior.Strict);
        services.AddSingleton(sp =>
        {
            leases.Setup(l => l.ListAsync(It.IsAny<LeaseQuery>(), It.IsAny<CancellationToken>()))
                .Returns(async (LeaseQuery query, CancellationToken stopping) =>
                {
                    listing.TrySetResult();
                    try
                    {
                        await Task.Delay(Timeout.Infinite, stopping);
                    }
                    catch (OperationCanceledException)
                    {
                        // Shutdown has begun: now the reply arrives.
                    }

                    return await store.ListAsync(query);
                });
            return new PolicyReevaluator(leases.Object, store, store, sp.GetRequiredService<IAuditLog>(), TimeProvider.System,
                sp.GetRequiredService<ILogger<PolicyReevaluator>>());
        });
        services.AddHostedService<PolicyReevaluationService>();
        return builder.Build();
    }
}
