using JitBroker.Core;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>Explanations show every rule's fate, agree with the engine, and spell out the grant arithmetic.</summary>
public sealed class PolicyExplainerTests
{
    private static readonly YamlPolicyEngine Examples = YamlPolicyEngine.LoadDirectory(ExamplePolicyTests.ExamplesPath);
    private static readonly DateTimeOffset MondayMorning = new(2026, 11, 23, 10, 0, 0, TimeSpan.FromHours(1));

    [Test]
    public void Chosen_rule_intersection_and_ttl_are_explained()
    {
        var probe = new PolicyProbe
        {
            Agent = "spiffe://corp.example/agents/support-bot",
            Action = "tickets.read",
            Target = "https://tickets.corp.example",
            Tools = ["zendesk", "shell"],
            Resources = ["tickets/1"],
            Purpose = "summarise",
            Ttl = TimeSpan.FromHours(1),
        };

        var explanation = PolicyExplainer.Explain(Examples, probe.ToIdentity(), probe.ToRequest(), MondayMorning);
        var text = explanation.ToText();

        Assert.That(explanation.Decision.RuleIds, Is.EqualTo(new[] { "support-tickets" }));
        Assert.That(explanation.Rules.Single(r => r.Outcome == RuleOutcome.Chosen).RuleId, Is.EqualTo("support-tickets"));
        Assert.That(explanation.Rules.Single(r => r.RuleId == "no-agent-deletes").Steps.Single(),
            Is.EqualTo("action 'tickets.read' matches none of [*.delete, *.purge]"));
        Assert.That(explanation.Rules.Single(r => r.RuleId == "support-tickets").Location, Does.EndWith("10-support.yaml:8:5"));
        Assert.That(text, Does.Contain("tools:     requested [zendesk, shell] ∩ allowed [zendesk, crm] = [zendesk]; refused [shell]"));
        Assert.That(text, Does.Contain("ttl:       min(requested 1h, credential.max_ttl 10m, defaults.max_ttl 15m) = 10m"));
        Assert.That(text, Does.Contain("issuer:    scopes=tickets:read tickets:write"));
        Assert.That(text, Does.Contain("decision:  ALLOW [support-tickets] — allowed by rule support-tickets; not granted: tools 'shell'"));
    }

    [Test]
    public void Failed_conditions_show_each_clause_and_the_value_seen()
    {
        var probe = new PolicyProbe
        {
            Agent = "spiffe://corp.example/agents/reporting-bot",
            Action = "reports.read",
            Target = "https://reports.corp.example",
            Tools = ["metabase"],
            Resources = ["reports/legal/hold"],
            Context = new Dictionary<string, string> { ["data_sensitivity"] = "4" },
        };

        var explanation = PolicyExplainer.Explain(Examples, probe.ToIdentity(), probe.ToRequest(), MondayMorning);
        var routine = explanation.Rules.Single(r => r.RuleId == "reporting-routine");

        Assert.That(routine.Outcome, Is.EqualTo(RuleOutcome.NotSatisfied));
        Assert.That(routine.Steps, Does.Contain("condition context.data_sensitivity NumericLessThanEquals '2': NotMet (context.data_sensitivity = '4')"));
        Assert.That(routine.Steps, Does.Contain("condition Weekday [mon, tue, wed, thu, fri] Europe/Berlin: Met (local day Mon 2026-11-23 Europe/Berlin)"));
        Assert.That(explanation.Decision.Effect, Is.EqualTo(DecisionEffect.Deny));
        Assert.That(explanation.GrantSteps, Is.Empty);
    }

    [Test]
    public void Deny_trace_says_which_deny_decided_and_why_an_indeterminate_deny_applies()
    {
        var probe = new PolicyProbe
        {
            Agent = "spiffe://corp.example/agents/deploy-bot",
            Action = "deploy.apply",
            Target = "vault-deploy",
            Kind = "vault-token",
            Resources = ["services/checkout"],
        };

        var explanation = PolicyExplainer.Explain(Examples, probe.ToIdentity(), probe.ToRequest(), MondayMorning);
        var deny = explanation.Rules.Single(r => r.RuleId == "production-needs-a-change-ticket");

        Assert.That(deny.Outcome, Is.EqualTo(RuleOutcome.DenyApplies));
        Assert.That(deny.Steps, Does.Contain("conditions indeterminate: a deny applies when a value is missing or mistyped"));
        Assert.That(deny.Steps[^1], Is.EqualTo("applies: this deny decides"));
        Assert.That(explanation.ToText(), Does.Contain("decision:  DENY [production-needs-a-change-ticket]"));
    }

    [Test]
    public void Later_fitting_allow_rule_is_shown_as_shadowed()
    {
        var policy = PolicyDecisionTests.Engine(PolicyDirectory.AllowRule("first"), PolicyDirectory.AllowRule("second"));

        var explanation = PolicyExplainer.Explain(policy, Agent(SupportBot), Request("x.read", "aud"));

        Assert.That(explanation.Rules.Select(r => r.Outcome), Is.EqualTo(new[] { RuleOutcome.Chosen, RuleOutcome.Shadowed }));
    }

    [Test]
    public void Explainer_trace_picks_the_same_rule_as_the_engine_over_many_requests()
    {
        // The explainer walks every rule without the engine's index and shortcuts; both must name the same rule.
        var probes = ExampleProbes().ToList();
        foreach (var probe in probes)
        {
            var explanation = PolicyExplainer.Explain(Examples, probe.ToIdentity(), probe.ToRequest(), MondayMorning);
            var winner = explanation.Rules.FirstOrDefault(r => r.Outcome == RuleOutcome.DenyApplies)
                ?? explanation.Rules.FirstOrDefault(r => r.Outcome == RuleOutcome.Chosen);

            Assert.That(explanation.Decision.RuleIds, Is.EqualTo(winner is null ? Array.Empty<string>() : new[] { winner.RuleId }),
                $"{probe.Agent} {probe.Action} {probe.Target} {string.Join(",", probe.Context.Keys)}");
        }

        Assert.That(probes, Has.Count.EqualTo(5 * 7 * 5 * 3));
    }

    private static IEnumerable<PolicyProbe> ExampleProbes()
    {
        string[] agents = ["spiffe://corp.example/agents/support-bot", "spiffe://corp.example/agents/reporting-bot",
            "spiffe://corp.example/agents/deploy-bot", "spiffe://corp.example/agents/analytics-x", "https://oidc.k8s.corp.example#sa"];
        string[] actions = ["tickets.read", "tickets.delete", "payments.refund", "reports.read", "deploy.apply", "db.query", "invoices.create"];
        string[] targets = ["https://tickets.corp.example", "https://payments.corp.example", "https://reports.corp.example", "vault-deploy", "db-readonly"];
        var contexts = new[]
        {
            new Dictionary<string, string>(),
            new Dictionary<string, string> { ["data_sensitivity"] = "3", ["amount_eur"] = "10", ["environment"] = "production", ["change_ticket"] = "CHG-1" },
            new Dictionary<string, string> { ["environment"] = "staging", ["dataset"] = "sales_x", ["read_only"] = "true" },
        };
        foreach (var agent in agents)
        {
            foreach (var action in actions)
            {
                foreach (var target in targets)
                {
                    foreach (var context in contexts)
                    {
                        yield return new PolicyProbe
                        {
                            Agent = agent,
                            Facts = new Dictionary<string, string> { ["iss"] = "https://oidc.k8s.corp.example", ["k8s.namespace"] = "billing", ["k8s.service_account"] = "invoice-a" },
                            Action = action,
                            Target = target,
                            Kind = target.StartsWith("https", StringComparison.Ordinal) ? "jwt" : target == "db-readonly" ? "vault-secret" : "vault-token",
                            Purpose = "a purpose long enough for any rule",
                            Context = context,
                        };
                    }
                }
            }
        }
    }
}
