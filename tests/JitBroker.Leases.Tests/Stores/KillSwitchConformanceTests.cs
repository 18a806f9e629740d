using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Stores;

/// <summary>The contract of <see cref="IKillSwitch"/>, run against every implementation.</summary>
public abstract class KillSwitchConformanceTests
{
    protected static readonly DateTimeOffset T0 = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

    protected IKillSwitch KillSwitch { get; private set; } = null!;

    protected abstract Task<IKillSwitch> CreateKillSwitchAsync();

    [SetUp]
    public async Task Create() => KillSwitch = await CreateKillSwitchAsync();

    protected static AgentBlock Block(string pattern, string reason = "incident 42") => new(pattern, reason, "admin:alice", T0);

    [Test]
    public async Task Nothing_is_blocked_by_default() =>
        Assert.That(await KillSwitch.FindBlockAsync("spiffe://td/agents/a", T0), Is.Null);

    [Test]
    public async Task An_exact_block_applies_to_that_agent_only()
    {
        await KillSwitch.BlockAsync(Block("spiffe://td/agents/a"));

        var block = await KillSwitch.FindBlockAsync("spiffe://td/agents/a", T0);

        Assert.That(block, Is.EqualTo(Block("spiffe://td/agents/a")), "every field round-trips");
        Assert.That(await KillSwitch.FindBlockAsync("spiffe://td/agents/ab", T0), Is.Null);
        Assert.That(await KillSwitch.FindBlockAsync("spiffe://td/agents", T0), Is.Null);
    }

    // The language itself is tested in Core's GlobPatternTests; these show every store matches through it.
    [TestCase("spiffe://td/agents/*", "spiffe://td/agents/a", true)]
    [TestCase("spiffe://td/agents/*", "spiffe://td/agents/a/b", false)]
    [TestCase("spiffe://td/**", "spiffe://td/agents/a/b", true)]
    [TestCase("spiffe://td/a.b", "spiffe://td/aXb", false)]
    [TestCase("https://idp.example#system:serviceaccount:agents:*", "https://idp.example#system:serviceaccount:agents:bot", true)]
    [TestCase("https://idp.example#system:serviceaccount:*", "https://idp.example#system:serviceaccount:agents:bot", false)]
    public async Task Glob_patterns_match_within_and_across_segments(string pattern, string agentId, bool blocked)
    {
        await KillSwitch.BlockAsync(Block(pattern));
        Assert.That(await KillSwitch.FindBlockAsync(agentId, T0), blocked ? Is.Not.Null : Is.Null);
    }

    [Test]
    public async Task An_exact_block_wins_then_the_ordinally_first_pattern()
    {
        await KillSwitch.BlockAsync(Block("spiffe://td/**", "everything"));
        await KillSwitch.BlockAsync(Block("spiffe://td/agents/*", "agents"));
        Assert.That((await KillSwitch.FindBlockAsync("spiffe://td/agents/a", T0))?.Reason, Is.EqualTo("everything"), "'**' sorts before 'a'");

        await KillSwitch.BlockAsync(Block("spiffe://td/agents/a", "this one"));
        Assert.That((await KillSwitch.FindBlockAsync("spiffe://td/agents/a", T0))?.Reason, Is.EqualTo("this one"));
    }

    [Test]
    public async Task Blocking_a_pattern_again_replaces_it_and_unblocking_lifts_it()
    {
        await KillSwitch.BlockAsync(Block("spiffe://td/agents/*", "first"));
        await KillSwitch.BlockAsync(Block("spiffe://td/agents/*", "second"));

        Assert.That((await KillSwitch.FindBlockAsync("spiffe://td/agents/a", T0))?.Reason, Is.EqualTo("second"));
        Assert.That(await KillSwitch.ListAsync(), Has.Count.EqualTo(1));

        Assert.That(await KillSwitch.UnblockAsync("spiffe://td/agents/*"), Is.True);
        Assert.That(await KillSwitch.UnblockAsync("spiffe://td/agents/*"), Is.False);
        Assert.That(await KillSwitch.FindBlockAsync("spiffe://td/agents/a", T0), Is.Null);
    }

    [Test]
    public async Task Unblock_takes_the_exact_pattern_not_a_match()
    {
        await KillSwitch.BlockAsync(Block("spiffe://td/agents/*"));

        Assert.That(await KillSwitch.UnblockAsync("spiffe://td/agents/a"), Is.False);
        Assert.That(await KillSwitch.FindBlockAsync("spiffe://td/agents/a", T0), Is.Not.Null);
    }

    [Test]
    public async Task List_returns_every_block_ordered_by_pattern()
    {
        await KillSwitch.BlockAsync(Block("spiffe://td/b"));
        await KillSwitch.BlockAsync(Block("spiffe://td/a*"));
        await KillSwitch.BlockAsync(Block("spiffe://td/a"));

        var blocks = await KillSwitch.ListAsync();

        Assert.That(blocks.Select(b => b.Pattern), Is.EqualTo(new[] { "spiffe://td/a", "spiffe://td/a*", "spiffe://td/b" }));
        Assert.That(blocks[0], Is.EqualTo(Block("spiffe://td/a")));
    }

    [TestCase(" ")]
    [TestCase("spiffe://td/***")]
    [TestCase("spiffe://td/a\tb")]
    public async Task An_invalid_pattern_is_refused_and_not_stored(string pattern)
    {
        Assert.CatchAsync<ArgumentException>(async () => await KillSwitch.BlockAsync(Block(pattern)));
        Assert.That(await KillSwitch.ListAsync(), Is.Empty);
    }

    [Test]
    public async Task A_block_with_an_expiry_applies_until_then_and_keeps_its_expiry_in_the_list()
    {
        var until = T0 + TimeSpan.FromMinutes(10);
        await KillSwitch.BlockAsync(Block("spiffe://td/agents/*") with { ExpiresAt = until });

        Assert.That((await KillSwitch.FindBlockAsync("spiffe://td/agents/a", T0))?.ExpiresAt, Is.EqualTo(until));
        Assert.That(await KillSwitch.FindBlockAsync("spiffe://td/agents/a", until), Is.Null, "expired at its end");
        Assert.That((await KillSwitch.ListAsync()).Single().ExpiresAt, Is.EqualTo(until));
    }
}
