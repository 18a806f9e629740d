using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using JitBroker.Protocol.V1;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Durations and reasons an attacker (or a typo) can put in a block or a request: each gets INVALID_ARGUMENT with
/// reason request.invalid, never UNKNOWN from an exception thrown while mapping the message, and records nothing.
/// </summary>
[NonParallelizable]
public sealed class HostileAdminInputTests
{
    private BrokerServerFixture _broker = null!;

    [OneTimeSetUp]
    public async Task Start() => _broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?>
    {
        ["JitBroker:Admin:Principals:0"] = E2E.AdminPattern,
    });

    [OneTimeTearDown]
    public async Task Stop() => await _broker.DisposeAsync();

    private static IEnumerable<TestCaseData> BadBlocks()
    {
        yield return new TestCaseData(new Duration { Seconds = 5, Nanos = -1 }, "x").SetName("a duration whose nanos have the other sign");
        yield return new TestCaseData(new Duration { Seconds = 315_576_000_000 }, "x").SetName("a duration of ten thousand years");
        yield return new TestCaseData(new Duration { Seconds = -60 }, "x").SetName("a negative duration");
        yield return new TestCaseData(new Duration { Seconds = 400 * 86_400 }, "x").SetName("a duration over the one-year cap");
        yield return new TestCaseData(null, new string('r', 1025)).SetName("a reason over 1024 characters");
        yield return new TestCaseData(null, "   ").SetName("a blank reason");
    }

    [TestCaseSource(nameof(BadBlocks))]
    public async Task A_bad_block_is_invalid_argument_and_records_nothing(Duration? duration, string reason)
    {
        using var admin = E2E.Admin(_broker);
        var pattern = E2E.Agent("hostile-" + Guid.NewGuid().ToString("N")[..8]);
        var ex = Assert.ThrowsAsync<RpcException>(() => admin.BlockAsync(new BlockAgentRequest { Pattern = pattern, Reason = reason, Duration = duration }));
        Assert.That((ex!.StatusCode, E2E.Reason(ex)), Is.EqualTo((StatusCode.InvalidArgument, "request.invalid")), ex.Status.Detail);
        Assert.That((await admin.ListBlocksAsync()).Blocks.Select(b => b.Pattern), Does.Not.Contain(pattern));
    }

    [Test]
    public void An_unblock_without_a_usable_reason_is_invalid_argument()
    {
        using var admin = E2E.Admin(_broker);
        var ex = Assert.ThrowsAsync<RpcException>(() => admin.UnblockAsync(new UnblockAgentRequest { Pattern = E2E.Agent("x"), Reason = new string('r', 5000) }));
        Assert.That((ex!.StatusCode, E2E.Reason(ex)), Is.EqualTo((StatusCode.InvalidArgument, "request.invalid")));
    }

    [Test]
    public void A_malformed_revocation_id_is_invalid_argument_and_an_unknown_one_not_found()
    {
        using var admin = E2E.Admin(_broker);
        var bad = Assert.ThrowsAsync<RpcException>(() => admin.GetRevocationProgressAsync("rvb_\u00ff\u00fe" + new string('a', 22)));
        Assert.That((bad!.StatusCode, E2E.Reason(bad)), Is.EqualTo((StatusCode.InvalidArgument, "request.invalid")));
        var unknown = Assert.ThrowsAsync<RpcException>(() => admin.GetRevocationProgressAsync("rvb_" + new string('0', 24)));
        Assert.That((unknown!.StatusCode, E2E.Reason(unknown)), Is.EqualTo((StatusCode.NotFound, "revocation.batch_not_found")));
    }

    [Test]
    public void An_unnormalised_requested_ttl_is_invalid_argument()
    {
        using var client = _broker.Client();
        var request = E2E.Tickets("hostile-ttl");
        request.RequestedTtl = new Duration { Seconds = 60, Nanos = -5 };
        var ex = Assert.ThrowsAsync<RpcException>(() => client.RequestCredentialAsync(_broker.Svid(), request, TimeSpan.FromSeconds(30)));
        Assert.That((ex!.StatusCode, E2E.Reason(ex)), Is.EqualTo((StatusCode.InvalidArgument, "request.invalid")), ex.Status.Detail);
    }
}
