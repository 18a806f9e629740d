using JitBroker.Core.Admission;
using JitBroker.Core.Handlers;
using JitBroker.Leases;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>
/// <see cref="AgentAdmission.AdmitAsync"/> sends the kill switch's look while the replay check is still out (one Redis
/// round trip for both), and keeps the refusals in their order: replayed before blocked, and a failed look never hides
/// the replay check's answer.
/// </summary>
[TestFixture]
public sealed class AdmissionLookTests
{
    private static readonly WorkloadIdentity Agent = BrokerFixture.Identity(BrokerFixture.AgentId);

    [Test]
    public async Task The_block_look_starts_before_the_replay_check_has_answered()
    {
        var replay = new HeldReplayCache(ReplayVerdict.FirstUse);
        var looks = new CountingKillSwitch(block: null);
        var admitting = Admission(replay, looks).AdmitAsync(Agent, "binding-1", "task-1").AsTask();

        await replay.Asked.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.That(looks.Looks, Is.EqualTo(1), "the look went out while the replay check was held");
        Assert.That(admitting.IsCompleted, Is.False);

        replay.Answer();
        await admitting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.That(looks.Looks, Is.EqualTo(1), "one look per admission");
    }

    [Test]
    public void A_blocked_agent_is_refused_as_blocked_after_a_first_use()
    {
        var replay = new HeldReplayCache(ReplayVerdict.FirstUse);
        replay.Answer();
        var refusal = Assert.ThrowsAsync<BrokerException>(() =>
            Admission(replay, new CountingKillSwitch(Block())).AdmitAsync(Agent, "binding-1", "task-1").AsTask());

        Assert.That(refusal!.Reason, Is.EqualTo(Reasons.AgentBlocked));
    }

    [Test]
    public void A_replayed_token_of_a_blocked_agent_is_refused_as_replayed()
    {
        var replay = new HeldReplayCache(ReplayVerdict.Replayed);
        replay.Answer();

        var refusal = Assert.ThrowsAsync<BrokerException>(() =>
            Admission(replay, new CountingKillSwitch(Block())).AdmitAsync(Agent, "binding-1", "task-1").AsTask());

        Assert.That(refusal!.Reason, Is.EqualTo(Reasons.TokenReplayed));
    }

    [Test]
    public void A_look_that_fails_does_not_hide_the_replay_refusal()
    {
        var replay = new HeldReplayCache(ReplayVerdict.Replayed);
        replay.Answer();
        var failing = new CountingKillSwitch(block: null) { Failure = new BrokerException(BrokerFailure.Unavailable, "redis.unavailable", "down") };

        var refusal = Assert.ThrowsAsync<BrokerException>(() => Admission(replay, failing).AdmitAsync(Agent, "binding-1", "task-1").AsTask());

        Assert.That(refusal!.Reason, Is.EqualTo(Reasons.TokenReplayed));
    }

    private static AgentBlock Block() => new("spiffe://example.org/agents/*", "incident 7", "ops", DateTimeOffset.UnixEpoch);

    private static AgentAdmission Admission(IReplayCache replay, IKillSwitch killSwitch)
    {
        var f = new BrokerFixture();
        var audit = new BestEffortAudit(f.Audit, NullLogger<BestEffortAudit>.Instance);
        return new AgentAdmission(new AttestorRegistry([f.Attestor.Object]), new ReplayGuard(replay, f.Options, f.Time), killSwitch, audit,
            new BrokerMetrics(), f.Failures, f.Time);
    }

    /// <summary>A replay cache whose answer waits until the test releases it.</summary>
    private sealed class HeldReplayCache(ReplayVerdict verdict) : IReplayCache
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Asked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Answer() => _release.TrySetResult();

        public async ValueTask<ReplayVerdict> CheckAndRecordAsync(string replayKey, string binding, DateTimeOffset keepUntil, CancellationToken cancellationToken = default)
        {
            Asked.TrySetResult();
            await _release.Task.WaitAsync(cancellationToken);
            return verdict;
        }
    }

    /// <summary>A kill switch that counts its looks and answers each with <c>block</c> (or fails).</summary>
    private sealed class CountingKillSwitch(AgentBlock? block) : IKillSwitch
    {
        private int _looks;

        public int Looks => Volatile.Read(ref _looks);

        public Exception? Failure { get; init; }

        public ValueTask<AgentBlock?> FindBlockAsync(string agentId, DateTimeOffset now, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _looks);
            return Failure is null ? ValueTask.FromResult(block) : ValueTask.FromException<AgentBlock?>(Failure);
        }

        public ValueTask BlockAsync(AgentBlock b, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public ValueTask<bool> UnblockAsync(string pattern, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public ValueTask<IReadOnlyList<AgentBlock>> ListAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();
    }
}
