using System.Diagnostics;
using JitBroker.Core;
using JitBroker.Leases.Redis;
using JitBroker.Redis;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;
using StackExchange.Redis;

namespace JitBroker.Leases.Tests.Redis;

/// <summary>
/// The least-privilege ACL of docs/redis.md, created exactly as documented: the broker's stores work under it
/// standalone and through Sentinel with no refusal in <c>ACL LOG</c>, and the audit user can append but not
/// trim or delete.
/// </summary>
[TestFixture]
[CancelAfter(120_000)]
public sealed class DocumentedAclTests
{
    private static readonly DateTimeOffset Now = TimeProvider.System.GetUtcNow();

    [Test]
    public async Task The_stores_work_as_the_documented_user_with_no_refusal_logged()
    {
        await using var server = await RedisServerProcess.StartServerAsync("--requirepass", DocumentedAcl.AdminPassword);
        await using var admin = DocumentedAcl.Admin(server.Endpoint);
        await DocumentedAcl.CreateUsersAsync(admin);
        await using var broker = new RedisConnection(new RedisOptions { Endpoint = server.Endpoint, User = DocumentedAcl.BrokerUser, Password = DocumentedAcl.BrokerPassword });

        await RunEveryStoreAsync(broker);

        Assert.That(await DocumentedAcl.RefusalsAsync(admin), Is.Empty);
    }

    [Test]
    public async Task Through_sentinel_the_documented_user_works_with_no_refusal_logged()
    {
        await using var master = await RedisServerProcess.StartServerAsync("--requirepass", DocumentedAcl.AdminPassword, "--masterauth", DocumentedAcl.AdminPassword);
        await using var admin = DocumentedAcl.Admin(master.Endpoint);
        await DocumentedAcl.CreateUsersAsync(admin);
        await using var sentinel = await RedisServerProcess.StartSentinelAsync(master.Port, "mymaster", DocumentedAcl.AdminPassword);
        var clock = Stopwatch.StartNew();
        while (!(await sentinel.RawReplyAsync("SENTINEL get-master-addr-by-name mymaster")).Contains(master.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal))
        {
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)), "sentinel never named the master");
            await Task.Delay(100);
        }

        await using var broker = new RedisConnection(new RedisOptions
        {
            SentinelEndpoints = [sentinel.Endpoint], SentinelMasterName = "mymaster",
            User = DocumentedAcl.BrokerUser, Password = DocumentedAcl.BrokerPassword,
        });

        await RunEveryStoreAsync(broker);

        Assert.That(broker.CurrentEndpoint?.Port, Is.EqualTo(master.Port));
        Assert.That(await DocumentedAcl.RefusalsAsync(admin), Is.Empty);
    }

    [Test]
    public async Task The_audit_user_can_append_but_not_trim_or_delete_and_the_broker_user_cannot_touch_the_audit_stream()
    {
        await using var server = await RedisServerProcess.StartServerAsync("--requirepass", DocumentedAcl.AdminPassword);
        await using var admin = DocumentedAcl.Admin(server.Endpoint);
        await DocumentedAcl.CreateUsersAsync(admin);
        await using var audit = new RedisConnection(new RedisOptions { Endpoint = server.Endpoint, User = DocumentedAcl.AuditUser, Password = DocumentedAcl.AuditPassword });
        await using var broker = new RedisConnection(new RedisOptions { Endpoint = server.Endpoint, User = DocumentedAcl.BrokerUser, Password = DocumentedAcl.BrokerPassword });
        RedisKey stream = "jitbroker:audit:replica-1";

        await audit.ExecuteAsync("XADD", [stream, "MAXLEN", "~", 1_000_000, "*", "seq", 1, "line", "{}"]);
        Assert.That((await audit.ExecuteAsync("XREVRANGE", [stream, "+", "-", "COUNT", 1])).AsArray(), Has.Length.EqualTo(1));

        string[][] refused =
        [
            ["XTRIM", "MAXLEN", "0"], ["XDEL", "0-1"], ["DEL"], ["UNLINK"], ["XSETID", "0-0"],
        ];
        foreach (var command in refused)
        {
            var error = Assert.ThrowsAsync<RedisServerException>(() => audit.ExecuteAsync(command[0], [stream, .. command.Skip(1)]).AsTask(), command[0]);
            Assert.That(error!.Message, Does.Contain("NOPERM"), command[0]);
        }

        var destroy = Assert.ThrowsAsync<RedisServerException>(() => audit.ExecuteAsync("XGROUP", ["DESTROY", stream, "g"]).AsTask());
        Assert.That(destroy!.Message, Does.Contain("NOPERM"));
        foreach (var command in new[] { "FLUSHALL", "FLUSHDB" })
        {
            var error = Assert.ThrowsAsync<RedisServerException>(() => RawAsAsync(server, DocumentedAcl.AuditUser, DocumentedAcl.AuditPassword, command), command);
            Assert.That(error!.Message, Does.Contain("NOPERM"), command);
        }

        Assert.ThrowsAsync<RedisServerException>(() => audit.ExecuteAsync("HGETALL", [(RedisKey)"jitbroker:lease:{x}"]).AsTask(), "the audit user reads no lease");
        Assert.ThrowsAsync<RedisServerException>(() => broker.ExecuteAsync("DEL", [stream]).AsTask(), "a stolen broker credential cannot delete the audit stream");
        Assert.ThrowsAsync<RedisServerException>(() => broker.ExecuteAsync("EVAL", ["return redis.call('XTRIM', KEYS[1], 'MAXLEN', 0)", 1, stream]).AsTask(), "nor trim it from a script");
        Assert.That((await admin.ExecuteAsync("XLEN", [stream])).AsInt64(), Is.EqualTo(1));
    }

    /// <summary>Every store, every kind of call (scripts and direct reads), as the broker makes them.</summary>
    internal static async Task RunEveryStoreAsync(RedisConnection redis, RedisKeyLayout? layout = null)
    {
        layout ??= new RedisKeyLayout("jitbroker:");
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(Now);
        var leases = new RedisLeaseStore(redis, layout, InMemoryLeaseStore.DefaultRevokedRetention);
        var lease = new Lease
        {
            LeaseId = "lease_acl_1", TaskId = "task-1", AgentId = "spiffe://td/agents/a", IssuerKind = "jwt", BackendHandle = "lease_acl_1",
            Scope = new GrantedScope("aud", "read", ["tool"], ["res"]), IssuedAt = Now, ExpiresAt = Now.AddSeconds(-1),
            State = LeaseState.Active, RuleIds = ["r1"], CredentialFingerprint = "sha256:" + new string('a', 64),
        };
        await leases.PutAsync(lease);
        Assert.That(await leases.GetAsync(lease.LeaseId), Is.Not.Null);
        Assert.That(await leases.ListByTaskAsync(lease.AgentId, lease.TaskId), Has.Count.EqualTo(1));
        Assert.That(await leases.ListAsync(new LeaseQuery { PageSize = 10 }), Is.Not.Null);
        Assert.That(await leases.ClaimDueAsync(Now, 10, TimeSpan.FromSeconds(30)), Has.Count.EqualTo(1));
        await leases.MarkRevokeFailedAsync(lease.LeaseId, "boom", Now);
        Assert.That(await leases.MarkRevokedManyAsync([lease.LeaseId], Now), Is.EqualTo(new[] { true }));
        Assert.That((await leases.CountByStateAsync())[LeaseState.Revoked], Is.EqualTo(1));
        Assert.That((await leases.ListAsync(new LeaseQuery { State = LeaseState.Revoked, PageSize = 10 })).Leases, Has.Count.EqualTo(1));

        // Bulk revocation (kill switch, operator revoke, policy reload) and the consistency sweep.
        var schedule = (IRevocationSchedule)leases;
        var second = lease with { LeaseId = "lease_acl_2", ExpiresAt = Now.AddMinutes(5) };
        await leases.PutAsync(second);
        var child = lease with { LeaseId = LeaseIds.New(LeaseIds.PlacementOf(second.LeaseId)), AgentId = "spiffe://td/agents/b", ParentLeaseId = second.LeaseId, ExpiresAt = Now.AddMinutes(5) };
        await leases.PutAsync(child);
        Assert.That(await schedule.ListAgentsAsync(), Does.Contain(lease.AgentId));
        var batch = await schedule.ScheduleAgentsAsync([lease.AgentId], Now, RevocationBatchIds.New());
        Assert.That(batch.Scheduled, Is.EqualTo(2), "the second lease and its child");
        Assert.That(await schedule.GetProgressAsync(batch.BatchId!), Is.Not.Null);
        Assert.That((await schedule.ScheduleLeasesAsync([child.LeaseId], Now, batchId: null)).InProgress, Is.EqualTo(1));
        Assert.That(await schedule.ScheduleOrphansAsync(Now), Is.Zero);

        var replay = new RedisReplayCache(redis, layout.Prefix, clock);
        Assert.That(await replay.CheckAndRecordAsync("iss|jti", "b", Now.AddMinutes(5)), Is.EqualTo(ReplayVerdict.FirstUse));

        var kill = new RedisKillSwitch(redis, layout.KillSwitchPrefix);
        await kill.BlockAsync(new AgentBlock("spiffe://td/agents/*", "test", "operator", Now));
        Assert.That(await kill.FindBlockAsync("spiffe://td/agents/a", Now), Is.Not.Null);
        Assert.That(await kill.UnblockAsync("spiffe://td/agents/*"), Is.True);

        var approvals = new RedisApprovalStore(redis, layout.ApprovalPrefix, clock);
        var approval = new ApprovalRecord
        {
            ApprovalId = "appr-acl", State = ApprovalState.Pending, CreatedAt = Now, ExpiresAt = Now.AddMinutes(10),
            AgentId = "spiffe://td/agents/a", RequestHash = "sha256:" + new string('d', 64),
            Request = new CredentialRequest("task-1", new TaskIntent("deploy", "ship", ["kubectl"], ["cluster:prod"], new Dictionary<string, string>()), "jwt", "https://deploy.example", TimeSpan.FromMinutes(5)),
            RuleIds = ["r1"], Approvers = ["admin:*"],
        };
        await approvals.PutAsync(approval);
        Assert.That(await approvals.GetAsync("appr-acl"), Is.Not.Null);
        Assert.That(await approvals.ListPendingAsync(Now, 10), Has.Count.EqualTo(1));
        Assert.That(await approvals.TransitionAsync(approval with { State = ApprovalState.Approved }, ApprovalState.Pending), Is.True);
        Assert.That(await redis.PingAsync(), Is.True);
    }

    private static async Task<RedisResult> RawAsAsync(RedisServerProcess server, string user, string password, string command)
    {
        await using var connection = new RedisConnection(new RedisOptions { Endpoint = server.Endpoint, User = user, Password = password, AllowAdminCommands = true });
        return await connection.ExecuteAsync(command, []);
    }
}
