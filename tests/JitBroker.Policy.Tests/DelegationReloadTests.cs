using System.Collections.Concurrent;
using JitBroker.Core;
using JitBroker.Testing;
using Microsoft.Extensions.Time.Testing;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>ReloadingPolicyEngine as IDelegationPolicy: delegations follow edits, atomically, and a broken edit changes nothing.</summary>
public sealed class DelegationReloadTests
{
    private const string Planner = "spiffe://corp/agents/planner";
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    private PolicyDirectory _dir = null!;
    private FakeTimeProvider _clock = null!;

    [SetUp]
    public void Create()
    {
        _dir = new PolicyDirectory();
        _clock = TestClock.Create();
    }

    [TearDown]
    public void Remove() => _dir.Dispose();

    // A version couples its rule id, its delegation id, the worker it names and its depth, so that a decision
    // mixing two versions would show.
    private static string Version(string name, int depth, string maxDepthText = "") => $$"""
        version: 1
        rules:
          - id: rule-{{name}}
            effect: allow
            principals: { spiffe_ids: ["spiffe://corp/**"] }
            actions: ["x.read"]
            credential: { audiences: [aud], max_ttl: 1m }
        delegations:
          - id: delegate-{{name}}
            from: { spiffe_ids: ["{{Planner}}"] }
            to: ["spiffe://corp/agents/{{name}}-*"]
            actions: ["x.read"]
            max_depth: {{(maxDepthText.Length > 0 ? maxDepthText : depth.ToString(System.Globalization.CultureInfo.InvariantCulture))}}
        """;

    [Test]
    public void Poll_swaps_delegations_with_the_rules()
    {
        _dir.Write("policy.yaml", Version("alpha", 1));
        using var engine = new ReloadingPolicyEngine(_dir.Path, Interval, _clock);
        IDelegationPolicy delegation = engine;
        Assert.That(delegation.Decide(Agent(Planner), "spiffe://corp/agents/alpha-1", "x.read").RuleIds, Is.EqualTo(new[] { "delegate-alpha" }));

        _dir.Write("policy.yaml", Version("beta", 3));
        _clock.Advance(Interval);

        Assert.That(engine.Version, Is.EqualTo(2));
        Assert.That(delegation.Decide(Agent(Planner), "spiffe://corp/agents/alpha-1", "x.read").Allowed, Is.False, "old delegation withdrawn");
        var decision = delegation.Decide(Agent(Planner), "spiffe://corp/agents/beta-1", "x.read");
        Assert.That((decision.Allowed, decision.MaxDepth, decision.RuleIds.Single()), Is.EqualTo((true, 3, "delegate-beta")));
        Assert.That(engine.Decide(Agent(Planner), Request("x.read", "aud")).RuleIds, Is.EqualTo(new[] { "rule-beta" }));
    }

    [Test]
    public async Task A_broken_delegation_keeps_the_policy_in_force()
    {
        _dir.Write("policy.yaml", Version("alpha", 2));
        using var engine = new ReloadingPolicyEngine(_dir.Path, TimeSpan.Zero, _clock);

        var broken = _dir.Write("policy.yaml", Version("beta", 0, maxDepthText: "9"));
        var result = await engine.ReloadNowAsync();

        Assert.That(result.Succeeded, Is.False);
        Assert.That(result.Error, Is.EqualTo($"{broken}:13:16: delegation 'delegate-beta': max_depth must be a whole number from 1 to 8, not '9'"));
        var decision = engine.Decide(Agent(Planner), "spiffe://corp/agents/alpha-1", "x.read");
        Assert.That((decision.Allowed, decision.MaxDepth), Is.EqualTo((true, 2)));
        Assert.That(engine.Decide(Agent(Planner), "spiffe://corp/agents/beta-1", "x.read").Allowed, Is.False);
    }

    [Test]
    public async Task Delegation_decisions_racing_reloads_each_come_from_one_version()
    {
        _dir.Write("policy.yaml", Version("alpha", 1));
        using var engine = new ReloadingPolicyEngine(_dir.Path, TimeSpan.Zero);
        var errors = new ConcurrentQueue<string>();
        using var done = new CancellationTokenSource();

        // The worker matches both versions' "to" only through its own name: alpha-1 under alpha, beta-1 under beta.
        var deciders = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            var count = 0;
            while (!done.IsCancellationRequested || count == 0)
            {
                var policy = engine.Current;
                var alpha = policy.Decide(Agent(Planner), "spiffe://corp/agents/alpha-1", "x.read");
                var beta = policy.Decide(Agent(Planner), "spiffe://corp/agents/beta-1", "x.read");
                var signature = $"{alpha.Allowed}:{alpha.MaxDepth}|{beta.Allowed}:{beta.MaxDepth}";
                if (signature is not ("True:1|False:0" or "False:0|True:2"))
                {
                    errors.Enqueue(signature);
                }

                var live = engine.Decide(Agent(Planner), "spiffe://corp/agents/alpha-1", "x.read");
                if (live.Allowed ? (live.MaxDepth, live.RuleIds.Single()) != (1, "delegate-alpha") : live.RuleIds.Count != 0)
                {
                    errors.Enqueue($"live {live.Allowed} {live.MaxDepth} {string.Join(",", live.RuleIds)}");
                }

                count++;
            }
        })).ToArray();

        for (var i = 0; i < 100; i++)
        {
            _dir.Write("policy.yaml", i % 5 == 4 ? "version: 1\ndelegations: [\n" : i % 2 == 0 ? Version("beta", 2) : Version("alpha", 1));
            await engine.ReloadNowAsync();
        }

        await done.CancelAsync();
        await Task.WhenAll(deciders).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(errors, Is.Empty, "decisions mixing versions");
        Assert.That(engine.Version, Is.GreaterThan(50));
    }
}
