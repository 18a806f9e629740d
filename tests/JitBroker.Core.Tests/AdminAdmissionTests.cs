using JitBroker.Core;
using JitBroker.Core.Handlers;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>Issue 17 item 5: an admin token serves one call, a blocked operator administers nothing, refusals are on the record.</summary>
public sealed class AdminAdmissionTests
{
    private const string OtherAdmin = "spiffe://example.org/humans/bob";

    [Test]
    public async Task An_admin_token_serves_exactly_one_call_even_in_bound_replay_mode()
    {
        var f = new PipelineFixture();
        Assert.That(f.Options.ReplayMode, Is.EqualTo(ReplayMode.Bound), "the agents' lenient mode must not apply to operators");
        var token = f.As(PipelineFixture.Human);

        await f.AdminAuthorization.AuthorizeAsync(token, "/jitbroker.v1.BrokerAdmin/ListBlocks");
        var replay = Assert.ThrowsAsync<BrokerException>(() => f.AdminAuthorization.AuthorizeAsync(token, "/jitbroker.v1.BrokerAdmin/ListBlocks"));

        Assert.That((replay!.Failure, replay.Reason), Is.EqualTo((BrokerFailure.Unauthenticated, Reasons.TokenReplayed)));
        var refused = f.Audit.OfType(AuditEventTypes.AdminRefused).Single();
        Assert.That((refused.Actor, refused.Reason, refused.Detail), Is.EqualTo((PipelineFixture.Human, Reasons.TokenReplayed, "/jitbroker.v1.BrokerAdmin/ListBlocks")));
        Assert.That(await f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Human)), Has.Property("Id").EqualTo(PipelineFixture.Human),
            "a fresh token is accepted");
    }

    [Test]
    public async Task An_admin_token_already_spent_on_the_agent_path_is_refused_by_the_admin_api()
    {
        var f = new PipelineFixture();
        var token = f.As(PipelineFixture.Human);
        try
        {
            await f.RequestCredential.HandleAsync(token, PipelineFixture.Request("t1"));
        }
        catch (BrokerException)
        {
            // whatever policy says: the token was presented (and recorded) on the agent path
        }

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.AdminAuthorization.AuthorizeAsync(token));

        Assert.That(ex!.Reason, Is.EqualTo(Reasons.TokenReplayed));
    }

    [Test]
    public async Task A_blocked_operator_is_refused_every_admin_call_including_lifting_its_own_block()
    {
        var f = new PipelineFixture();
        var alice = await f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Human));
        await f.KillSwitchAdmin.BlockAsync(alice, OtherAdmin, "operator laptop stolen");

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.AdminAuthorization.AuthorizeAsync(f.As(OtherAdmin), "/jitbroker.v1.BrokerAdmin/UnblockAgent"));

        Assert.That((ex!.Failure, ex.Reason), Is.EqualTo((BrokerFailure.PermissionDenied, Reasons.Admin.Blocked)));
        var refused = f.Audit.OfType(AuditEventTypes.AdminRefused).Single();
        Assert.That((refused.Actor, refused.Reason, refused.Detail), Is.EqualTo((OtherAdmin, Reasons.Admin.Blocked, "/jitbroker.v1.BrokerAdmin/UnblockAgent")));
        Assert.That(await f.KillSwitch.ListAsync(), Has.Count.EqualTo(1), "the block stands");

        Assert.That(await f.KillSwitchAdmin.UnblockAsync(await f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Human)), OtherAdmin, "laptop found"), Is.True);
        Assert.That(await f.AdminAuthorization.AuthorizeAsync(f.As(OtherAdmin)), Has.Property("Id").EqualTo(OtherAdmin), "unblocked by another operator");
    }

    [Test]
    public void A_non_admin_refusal_is_audited_with_the_operation_it_asked_for()
    {
        var f = new PipelineFixture();

        Assert.ThrowsAsync<BrokerException>(() => f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Agent), "/jitbroker.v1.BrokerAdmin/RevokeLeases"));

        var refused = f.Audit.OfType(AuditEventTypes.AdminRefused).Single();
        Assert.That((refused.Actor, refused.Reason, refused.Detail, refused.Decision),
            Is.EqualTo((PipelineFixture.Agent, Reasons.Admin.NotAnAdmin, "/jitbroker.v1.BrokerAdmin/RevokeLeases", "deny")));
    }

    [TestCase("**")]
    [TestCase("spiffe://**")]
    [TestCase("sp ffe://example.org/humans/*")]
    public void Admin_authorization_cannot_be_built_with_an_unanchored_principal(string pattern)
    {
        var f = new PipelineFixture();
        Assert.Throws<ArgumentException>(() => _ = new AdminAuthorization(f.Admission, f.ReplayGuard, f.KillSwitch, f.BestEffortAudit,
            new AdminOptions { Principals = [pattern] }, f.Time));
    }
}
