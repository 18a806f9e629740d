using System.Diagnostics;
using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>The request path's step spans (a public contract: names, order, the failed step and its reason code).</summary>
public sealed class RequestSpanTests
{
    [Test]
    public async Task An_issued_credential_shows_each_step_once_in_order()
    {
        var spans = await RecordAsync(f => f.IssueAsync());

        Assert.That(spans.Select(s => s.OperationName), Is.EqualTo(new[]
        {
            "jitbroker.attest", "jitbroker.replay", "jitbroker.block", "jitbroker.decide", "jitbroker.mint", "jitbroker.record", "jitbroker.audit",
        }));
        Assert.That(spans.Select(s => s.Status), Is.All.EqualTo(ActivityStatusCode.Unset));
    }

    [Test]
    public async Task A_replayed_token_fails_the_replay_span_with_its_reason()
    {
        var f = new PipelineFixture();
        await f.RequestCredential.HandleAsync(f.Token("same"), PipelineFixture.Request("t1"));

        var spans = await RecordAsync(f, x => x.RequestCredential.HandleAsync(x.Token("same"), PipelineFixture.Request("t2")).AsTask());

        Assert.That(spans.Select(s => s.OperationName), Is.EqualTo(new[] { "jitbroker.attest", "jitbroker.replay" }));
        Assert.That(spans[1].Status, Is.EqualTo(ActivityStatusCode.Error));
        Assert.That(spans[1].GetTagItem("jitbroker.reason"), Is.EqualTo(Reasons.TokenReplayed));
    }

    [Test]
    public async Task A_blocked_agent_fails_the_block_span_with_its_reason()
    {
        var f = new PipelineFixture();
        await f.KillSwitch.BlockAsync(new AgentBlock("spiffe://example.org/agents/*", "compromised", "oncall@example.org", f.Time.GetUtcNow()));

        var spans = await RecordAsync(f, x => x.IssueAsync());

        Assert.That(spans.Select(s => s.OperationName), Is.EqualTo(new[] { "jitbroker.attest", "jitbroker.replay", "jitbroker.block" }));
        Assert.That(spans[1].Status, Is.EqualTo(ActivityStatusCode.Unset));
        Assert.That(spans[2].Status, Is.EqualTo(ActivityStatusCode.Error));
        Assert.That(spans[2].GetTagItem("jitbroker.reason"), Is.EqualTo(Reasons.AgentBlocked));
    }

    [Test]
    public async Task A_refused_attestation_fails_the_attest_span_with_its_reason()
    {
        var spans = await RecordAsync(f => f.RequestCredential.HandleAsync(new AttestationEvidence("token-x") { ClaimedAgentId = "spiffe://example.org/agents/someone-else" },
            PipelineFixture.Request()).AsTask());

        Assert.That(spans.Select(s => s.OperationName), Is.EqualTo(new[] { "jitbroker.attest" }));
        Assert.That(spans[0].Status, Is.EqualTo(ActivityStatusCode.Error));
        Assert.That(spans[0].GetTagItem("jitbroker.reason"), Is.EqualTo(Reasons.IdentityClaimMismatch));
    }

    [Test]
    public async Task A_malformed_proof_key_fails_the_attest_span_as_an_invalid_request()
    {
        var spans = await RecordAsync(f => f.RequestCredential.HandleAsync(new AttestationEvidence("token-x", proofKeyThumbprint: "not-a-thumbprint"),
            PipelineFixture.Request()).AsTask());

        Assert.That(spans.Select(s => s.OperationName), Is.EqualTo(new[] { "jitbroker.attest" }));
        Assert.That(spans[0].Status, Is.EqualTo(ActivityStatusCode.Error));
        Assert.That(spans[0].GetTagItem("jitbroker.reason"), Is.EqualTo(Reasons.RequestInvalid));
    }

    private static Task<List<Activity>> RecordAsync(Func<PipelineFixture, Task> call) => RecordAsync(new PipelineFixture(), call);

    /// <summary>Runs <paramref name="call"/> under a root span of its own and returns the broker's spans in that trace, in start order.</summary>
    private static async Task<List<Activity>> RecordAsync(PipelineFixture f, Func<PipelineFixture, Task> call)
    {
        var started = new List<Activity>();
        using var root = new ActivitySource("RequestSpanTests." + Guid.NewGuid().ToString("N"));
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == BrokerTracing.SourceName || s == root,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = a =>
            {
                lock (started)
                {
                    started.Add(a);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        ActivityTraceId trace;
        using (var test = root.StartActivity("test"))
        {
            trace = test!.TraceId;
            try
            {
                await call(f);
            }
            catch (BrokerException)
            {
                // The refusal itself is asserted elsewhere; here only its spans count.
            }
        }

        lock (started)
        {
            return started.Where(a => a.TraceId == trace && a.Source.Name == BrokerTracing.SourceName).ToList();
        }
    }
}
