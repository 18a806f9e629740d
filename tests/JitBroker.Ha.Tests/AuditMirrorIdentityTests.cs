using JitBroker.Cli;
using JitBroker.Ha.Tests.Harness;
using JitBroker.Redis;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Ha.Tests;

/// <summary>
/// Issue 15 items 3 and 5 on broker processes: two replicas on one host (same host name) mirror their audit chains to
/// two streams, never one; the mirror connects as the documented append-only audit user, and the broker's own user
/// cannot read, trim or delete those streams.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(120_000)]
public sealed class AuditMirrorIdentityTests
{
    [Test]
    public async Task Two_replicas_on_one_host_mirror_to_their_own_streams_as_the_append_only_audit_user(CancellationToken cancellationToken)
    {
        await using var redis = await RedisServerProcess.StartServerAsync("--requirepass", DocumentedAcl.AdminPassword);
        await using var admin = DocumentedAcl.Admin(redis.Endpoint);
        await DocumentedAcl.CreateUsersAsync(admin);
        await using var fleet = BrokerFleet.Create();
        var settings = new Dictionary<string, string>
        {
            ["Redis:User"] = DocumentedAcl.BrokerUser,
            ["Redis:PasswordFile"] = Secret(fleet, "broker.pw", DocumentedAcl.BrokerPassword),
            ["Redis:AuditUser"] = DocumentedAcl.AuditUser,
            ["Redis:AuditPasswordFile"] = Secret(fleet, "audit.pw", DocumentedAcl.AuditPassword),
        };
        var replicas = new[] { fleet.Start("replica-a", redis.Endpoint, settings), fleet.Start("replica-b", redis.Endpoint, settings) };
        await Task.WhenAll(replicas.Select(r => r.WaitReadyAsync(TimeSpan.FromSeconds(60), cancellationToken)));

        foreach (var (replica, i) in replicas.Select((r, i) => (r, i)))
        {
            using var client = new BrokerClient(replica.GrpcUri);
            var request = BrokerClient.NewRequest($"mirror-{i}", "tickets.read", BrokerFleet.TicketsAudience, ["zendesk"], ["tickets/1"]);
            Assert.That((await client.RequestCredentialAsync(fleet.Svid(), request, TimeSpan.FromSeconds(30), cancellationToken)).LeaseId, Does.StartWith("lease_"));
        }

        var streams = (await admin.ExecuteAsync("KEYS", ["jitbroker:audit:*"], cancellationToken)).AsArray().Select(k => k.AsString()!).Order().ToList();
        Assert.That(streams, Has.Count.EqualTo(2), "one stream per replica, though both run on this host: " + string.Join(", ", streams));
        foreach (var stream in streams)
        {
            Assert.That((await admin.ExecuteAsync("XLEN", [stream], cancellationToken)).AsInt64(), Is.GreaterThan(0), stream);
        }

        Assert.That(await DocumentedAcl.RefusalsAsync(admin), Is.Empty, "nothing either replica did was refused by the documented ACL");

        // A stolen broker credential reaches no audit stream.
        await using var asBroker = new RedisConnection(new RedisOptions { Endpoint = redis.Endpoint, User = DocumentedAcl.BrokerUser, Password = DocumentedAcl.BrokerPassword });
        foreach (var command in new[] { "XLEN", "DEL", "UNLINK" })
        {
            Assert.That(async () => await asBroker.ExecuteAsync(command, [streams[0]], cancellationToken), Throws.Exception, $"{command} as the broker user");
        }

        Assert.That((await admin.ExecuteAsync("XLEN", [streams[0]], cancellationToken)).AsInt64(), Is.GreaterThan(0), "the stream is intact");
    }

    private static string Secret(BrokerFleet fleet, string name, string value)
    {
        var path = Path.Combine(fleet.Root, name);
        File.WriteAllText(path, value + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }
}
