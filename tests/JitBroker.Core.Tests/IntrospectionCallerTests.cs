using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>Issue 17 item 6: introspection answers resource servers and a token's own agent; everyone else is refused.</summary>
public sealed class IntrospectionCallerTests
{
    private const string Stranger = "spiffe://example.org/agents/stranger";

    [Test]
    public async Task A_caller_that_is_neither_a_resource_server_nor_the_tokens_agent_is_refused()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.Introspection.HandleAsync(f.As(Stranger), granted.Credential.Secret));

        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.PermissionDenied));
        Assert.That(ex.Reason, Is.EqualTo(Reasons.Introspection.CallerNotAllowed));
    }

    [TestCase("garbage")]
    [TestCase("")]
    [TestCase("secret-1.lease_unknown")]
    public void Such_a_caller_gets_the_same_refusal_for_anything_else_so_it_learns_nothing(string token)
    {
        var f = new PipelineFixture();

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.Introspection.HandleAsync(f.As(Stranger), token));

        Assert.That(ex!.Reason, Is.EqualTo(Reasons.Introspection.CallerNotAllowed));
    }

    [Test]
    public async Task A_resource_server_is_answered_about_any_token()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();

        var active = await f.Introspection.HandleAsync(f.As(PipelineFixture.ResourceServer), granted.Credential.Secret);
        var garbage = await f.Introspection.HandleAsync(f.As(PipelineFixture.ResourceServer), "garbage");

        Assert.That(active.Active, Is.True);
        Assert.That(active.Claims!.LeaseId, Is.EqualTo(granted.Lease.LeaseId));
        Assert.That(garbage.Active, Is.False);
    }

    [Test]
    public async Task The_agent_a_token_was_issued_to_is_answered_about_it_before_and_after_it_ends()
    {
        var f = new PipelineFixture();
        var granted = await f.IssueAsync();

        var before = await f.Introspection.HandleAsync(f.As(PipelineFixture.Agent), granted.Credential.Secret);
        await f.EndTask.HandleAsync(f.As(PipelineFixture.Agent), "t1");
        var after = await f.Introspection.HandleAsync(f.As(PipelineFixture.Agent), granted.Credential.Secret);

        Assert.That(before.Active, Is.True);
        Assert.That(after.Active, Is.False);
    }

    [Test]
    public async Task A_delegating_planner_is_not_the_agent_of_its_workers_token()
    {
        var f = new PipelineFixture();
        f.DelegationPolicy.Rules.Add(("spiffe://example.org/**", "spiffe://example.org/workers/*", 3));
        var root = await f.IssueAsync();
        var (offer, _) = await f.OfferDelegation.HandleAsync(f.As(PipelineFixture.Agent), root.Lease.LeaseId, "spiffe://example.org/workers/w1", ["zendesk"], [], null);
        var child = await f.DelegateCredential.HandleAsync(f.As("spiffe://example.org/workers/w1"), offer);

        var ex = Assert.ThrowsAsync<BrokerException>(() => f.Introspection.HandleAsync(f.As(PipelineFixture.Agent), child.Credential.Secret));

        Assert.That(ex!.Reason, Is.EqualTo(Reasons.Introspection.CallerNotAllowed));
        Assert.That((await f.Introspection.HandleAsync(f.As("spiffe://example.org/workers/w1"), child.Credential.Secret)).Active, Is.True);
    }

    [TestCase("*")]
    [TestCase("**")]
    [TestCase("spiffe://*/tools/x")]
    [TestCase("https://*.example/rs")]
    [TestCase("tools/*")]
    [TestCase("spiffe://example.org/tools/***")]
    public void Resource_server_patterns_must_name_a_literal_scheme_and_authority(string pattern)
    {
        var problems = new IntrospectionOptions { ResourceServers = [pattern] }.Validate().ToList();

        Assert.That(problems, Has.Count.EqualTo(1));
        Assert.That(problems[0], Does.StartWith("Introspection:ResourceServers"));
    }

    [TestCase("spiffe://example.org/tools/*")]
    [TestCase("https://oidc.example#system:serviceaccount:tools:*")]
    public void Anchored_resource_server_patterns_are_accepted(string pattern) =>
        Assert.That(new IntrospectionOptions { ResourceServers = [pattern] }.Validate(), Is.Empty);
}
