using JitBroker.Core;

namespace JitBroker.Policy.Tests;

/// <summary>What of a declared intent a policy reads, so a lease keeps exactly that (issue 16 item 9).</summary>
public sealed class IntentInputsTests
{
    private static YamlPolicyEngine Parse(string rules) => YamlPolicyEngine.Parse("version: 1\nrules:\n" + rules, "p.yaml");

    private const string Allow = """
          - id: plain
            effect: allow
            principals: { spiffe_ids: ["spiffe://corp/**"] }
            actions: ["x.read"]
            credential: { audiences: [aud], max_ttl: 1m }

        """;

    [Test]
    public void A_policy_without_purpose_rules_or_context_conditions_reads_nothing() =>
        Assert.That(Parse(Allow).IntentInputs, Is.SameAs(IntentInputs.Nothing));

    [Test]
    public void Purpose_min_length_and_context_conditions_of_allow_and_deny_rules_are_read()
    {
        var engine = Parse(Allow + """
              - id: careful
                effect: allow
                principals: { spiffe_ids: ["spiffe://corp/**"] }
                actions: ["x.write"]
                purpose_min_length: 10
                conditions:
                  NumericLessThan: { context.risk: 3 }
                  Bool: { context.read_only: true }
                credential: { audiences: [aud], max_ttl: 1m }
              - id: no-prod
                effect: deny
                principals: { spiffe_ids: ["spiffe://corp/**"] }
                actions: ["x.*"]
                conditions:
                  StringEquals: { context.environment: production, identity.team: interns }
            """);

        Assert.That(engine.IntentInputs.Purpose, Is.True);
        Assert.That(engine.IntentInputs.ContextKeys, Is.EquivalentTo(new[] { "risk", "read_only", "environment" }), "identity.* is attested, not declared");
        Assert.That(engine.IntentInputs.ReadsContext("ticket"), Is.False);
    }

    [Test]
    public void A_condition_on_request_purpose_reads_the_purpose()
    {
        var engine = Parse(Allow.Replace("    credential:", "    conditions:\n      StringLike: { request.purpose: \"INC-*\" }\n    credential:", StringComparison.Ordinal));

        Assert.That((engine.IntentInputs.Purpose, engine.IntentInputs.ContextKeys.Count), Is.EqualTo((true, 0)));
    }

    [Test]
    public async Task A_reloading_engine_reports_what_the_policy_in_force_reads()
    {
        using var dir = new PolicyDirectory();
        dir.Write("p.yaml", "version: 1\nrules:\n" + Allow);
        using var engine = new ReloadingPolicyEngine(dir.Path, TimeSpan.Zero);
        Assert.That(engine.IntentInputs.ContextKeys, Is.Empty);

        dir.Write("p.yaml", "version: 1\nrules:\n" + Allow.Replace("    credential:", "    conditions:\n      StringEquals: { context.ticket: T-1 }\n    credential:", StringComparison.Ordinal));
        var reloaded = await engine.ReloadNowAsync();

        Assert.That(reloaded.Changed, Is.True);
        Assert.That(engine.IntentInputs.ContextKeys, Is.EquivalentTo(new[] { "ticket" }));
    }
}
