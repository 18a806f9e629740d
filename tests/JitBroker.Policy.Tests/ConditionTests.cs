using JitBroker.Core;
using Microsoft.Extensions.Time.Testing;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>IAM-style typed conditions: each operator, lists, missing and mistyped values, time windows.</summary>
public sealed class ConditionTests
{
    private static YamlPolicyEngine Allow(string conditions, TimeProvider? time = null) => YamlPolicyEngine.Parse(
        "version: 1\nrules:\n  - id: r\n    effect: allow\n    principals: { spiffe_ids: [\"spiffe://dev.jitbroker.local/**\"] }\n" +
        "    actions: [\"x.read\"]\n    conditions:\n" + Indent(conditions) + "    credential: { audiences: [aud], max_ttl: 1m }\n", "c.yaml", time);

    private static DecisionEffect Decide(YamlPolicyEngine engine, Dictionary<string, string>? context = null, WorkloadIdentity? agent = null, TimeSpan? ttl = null, string purpose = "p") =>
        engine.Decide(agent ?? Agent(SupportBot), Request("x.read", "aud", context: context ?? [], ttl: ttl, purpose: purpose)).Effect;

    private static Dictionary<string, string> Ctx(string key, string value) => new() { [key] = value };

    [TestCase("StringEquals: { context.env: prod }", "prod", true)]
    [TestCase("StringEquals: { context.env: prod }", "Prod", false)]
    [TestCase("StringEquals: { context.env: [dev, prod] }", "dev", true)]
    [TestCase("StringNotEquals: { context.env: [dev, prod] }", "dev", false)]
    [TestCase("StringNotEquals: { context.env: [dev, prod] }", "staging", true)]
    [TestCase("StringLike: { context.env: \"prod-*\" }", "prod-eu", true)]
    [TestCase("StringLike: { context.env: \"prod-*\" }", "prod-eu/1", false)]
    [TestCase("StringNotLike: { context.env: [\"prod-*\", dev] }", "staging", true)]
    [TestCase("StringNotLike: { context.env: [\"prod-*\", dev] }", "dev", false)]
    [TestCase("NumericLessThan: { context.env: 5 }", "4.99", true)]
    [TestCase("NumericLessThan: { context.env: 5 }", "5", false)]
    [TestCase("NumericLessThanEquals: { context.env: 5 }", "5.0", true)]
    [TestCase("NumericGreaterThan: { context.env: -1.5 }", "-1", true)]
    [TestCase("NumericGreaterThanEquals: { context.env: 10 }", "9", false)]
    [TestCase("NumericEquals: { context.env: [1, 2, 3] }", "2", true)]
    [TestCase("NumericNotEquals: { context.env: [1, 2, 3] }", "2", false)]
    [TestCase("NumericNotEquals: { context.env: [1, 2, 3] }", "4", true)]
    [TestCase("Bool: { context.env: true }", "true", true)]
    [TestCase("Bool: { context.env: true }", "TRUE", true)]
    [TestCase("Bool: { context.env: false }", "true", false)]
    public void Operators_compare_as_documented(string condition, string value, bool allowed) =>
        Assert.That(Decide(Allow(condition), Ctx("env", value)), Is.EqualTo(allowed ? DecisionEffect.Allow : DecisionEffect.Deny));

    // Values of the wrong type never throw and never allow: the condition is indeterminate.
    [TestCase("NumericLessThan: { context.risk: 50 }", "high")]
    [TestCase("NumericLessThan: { context.risk: 50 }", "")]
    [TestCase("NumericLessThan: { context.risk: 50 }", "1e1")]
    [TestCase("NumericLessThan: { context.risk: 50 }", " 1")]
    [TestCase("NumericLessThan: { context.risk: 50 }", "0x10")]
    [TestCase("NumericLessThan: { context.risk: 50 }", "NaN")]
    [TestCase("NumericLessThan: { context.risk: 50 }", "99999999999999999999999999999999999")]
    [TestCase("NumericNotEquals: { context.risk: 50 }", "fifty")]
    [TestCase("Bool: { context.risk: true }", "yes")]
    [TestCase("Bool: { context.risk: false }", "0")]
    public void Mistyped_request_values_fail_closed(string condition, string value) =>
        Assert.That(Decide(Allow(condition), Ctx("risk", value)), Is.EqualTo(DecisionEffect.Deny));

    [TestCase("StringEquals: { context.env: prod }")]
    [TestCase("StringNotEquals: { context.env: prod }")]
    [TestCase("StringNotLike: { context.env: prod }")]
    [TestCase("NumericNotEquals: { context.env: 1 }")]
    [TestCase("Bool: { context.env: false }")]
    public void Missing_key_never_satisfies_an_allow(string condition) =>
        Assert.That(Decide(Allow(condition)), Is.EqualTo(DecisionEffect.Deny));

    [Test]
    public void Deny_applies_when_its_condition_cannot_be_evaluated_and_not_when_provably_unmet()
    {
        var engine = YamlPolicyEngine.Parse(PolicyDirectory.Document(PolicyDirectory.AllowRule("allow"), """
              - id: risky
                effect: deny
                principals: { trust_domains: [dev.jitbroker.local] }
                actions: ["x.*"]
                conditions:
                  NumericGreaterThanEquals: { context.risk: 80 }
                reason: too risky
            """), "d.yaml");

        Assert.That(Decide(engine, Ctx("risk", "10")), Is.EqualTo(DecisionEffect.Allow), "provably below: deny does not apply");
        Assert.That(Decide(engine, Ctx("risk", "80")), Is.EqualTo(DecisionEffect.Deny));
        Assert.That(engine.Decide(Agent(SupportBot), Request("x.read", "aud")).Reason, Is.EqualTo("too risky"), "missing: deny applies");
        Assert.That(Decide(engine, Ctx("risk", "low")), Is.EqualTo(DecisionEffect.Deny), "mistyped: deny applies");
    }

    [Test]
    public void Clauses_and_together_across_operators_and_keys()
    {
        var agent = Oidc(K8sIssuer, "s", "billing");
        var policy = YamlPolicyEngine.Parse(
            "version: 1\nrules:\n  - id: r\n    effect: allow\n    principals: { issuers: [\"" + K8sIssuer + "\"] }\n    actions: [\"x.read\"]\n" +
            "    conditions:\n      StringEquals: { context.env: prod, identity.k8s.namespace: billing }\n      NumericLessThan: { context.risk: 50 }\n" +
            "    credential: { audiences: [aud], max_ttl: 1m }\n", "and.yaml");

        Assert.That(Decide(policy, new() { ["env"] = "prod", ["risk"] = "10" }, agent), Is.EqualTo(DecisionEffect.Allow));
        Assert.That(Decide(policy, new() { ["env"] = "prod", ["risk"] = "60" }, agent), Is.EqualTo(DecisionEffect.Deny));
        Assert.That(Decide(policy, new() { ["env"] = "prod", ["risk"] = "10" }, Oidc(K8sIssuer, "s", "default")), Is.EqualTo(DecisionEffect.Deny));
        Assert.That(Decide(policy, new() { ["risk"] = "10" }, agent), Is.EqualTo(DecisionEffect.Deny));
    }

    [TestCase("principal.id", SupportBot)]
    [TestCase("principal.trust_domain", DevDomain)]
    [TestCase("principal.method", "jwt-svid")]
    [TestCase("request.action", "x.read")]
    [TestCase("request.target", "aud")]
    [TestCase("request.kind", "jwt")]
    [TestCase("request.task_id", "task-1")]
    [TestCase("request.purpose", "p")]
    public void Built_in_keys_read_the_identity_and_request(string key, string expected)
    {
        Assert.That(Decide(Allow($"StringEquals: {{ {key}: \"{expected}\" }}")), Is.EqualTo(DecisionEffect.Allow));
        Assert.That(Decide(Allow($"StringEquals: {{ {key}: \"{expected}-not\" }}")), Is.EqualTo(DecisionEffect.Deny));
    }

    [Test]
    public void Ttl_seconds_is_numeric_and_missing_when_unset()
    {
        var engine = Allow("NumericLessThanEquals: { request.ttl_seconds: 300 }");

        Assert.That(Decide(engine, ttl: TimeSpan.FromMinutes(5)), Is.EqualTo(DecisionEffect.Allow));
        Assert.That(Decide(engine, ttl: TimeSpan.FromMinutes(6)), Is.EqualTo(DecisionEffect.Deny));
        Assert.That(Decide(engine), Is.EqualTo(DecisionEffect.Deny));
    }

    [TestCase("2026-11-23T07:59:00Z", false)]   // 08:59 Berlin (CET, UTC+1)
    [TestCase("2026-11-23T08:00:00Z", true)]    // 09:00 Berlin
    [TestCase("2026-11-23T16:59:00Z", true)]    // 17:59
    [TestCase("2026-11-23T17:00:00Z", false)]   // 18:00: the end is exclusive
    [TestCase("2026-07-01T07:30:00Z", true)]    // 09:30 Berlin in summer (CEST, UTC+2)
    [TestCase("2026-07-01T16:30:00Z", false)]   // 18:30 Berlin in summer
    public void Time_of_day_uses_the_iana_zone_and_its_daylight_saving(string utc, bool allowed)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.Parse(utc, System.Globalization.CultureInfo.InvariantCulture));
        var engine = Allow("TimeOfDayBetween: { between: [\"09:00\", \"18:00\"], time_zone: Europe/Berlin }", clock);

        Assert.That(Decide(engine), Is.EqualTo(allowed ? DecisionEffect.Allow : DecisionEffect.Deny));
    }

    [TestCase(23, 30, true)]
    [TestCase(5, 59, true)]
    [TestCase(6, 0, false)]
    [TestCase(12, 0, false)]
    public void Time_window_may_span_midnight(int hour, int minute, bool allowed)
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, hour, minute, 0, TimeSpan.Zero));
        var engine = Allow("TimeOfDayBetween: { between: [\"22:00\", \"06:00\"], time_zone: UTC }", clock);

        Assert.That(Decide(engine), Is.EqualTo(allowed ? DecisionEffect.Allow : DecisionEffect.Deny));
    }

    [Test]
    public void Time_conditions_follow_the_injected_clock()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 27, 22, 30, 0, TimeSpan.Zero)); // Friday 23:30 Berlin
        var engine = Allow("Weekday: { days: [mon, tue, wed, thu, Friday], time_zone: Europe/Berlin }", clock);

        Assert.That(Decide(engine), Is.EqualTo(DecisionEffect.Allow));
        clock.Advance(TimeSpan.FromMinutes(31)); // Saturday 00:01 in Berlin, still Friday in UTC
        Assert.That(Decide(engine), Is.EqualTo(DecisionEffect.Deny));
    }

    // ---- load errors: wrong types and values are found at load, on the offending node ----
    [TestCase("NumericLessThan: { context.risk: \"50\" }", "must be a number")]
    [TestCase("NumericLessThan: { context.risk: high }", "must be a number")]
    [TestCase("NumericLessThan: { context.risk: 1e3 }", "must be a number")]
    [TestCase("NumericLessThan: { context.risk: [] }", "must list 1-64 values")]
    [TestCase("Bool: { context.flag: yes }", "must be true or false")]
    [TestCase("Bool: { context.flag: \"true\" }", "must be true or false")]
    [TestCase("StringEquals: { context.env: { a: b } }", "must be a value or a list of values")]
    [TestCase("StringEquals: { context.env: ~ }", "must be a string, not null")]
    [TestCase("StringLike: { context.env: \"a***\" }", "three or more consecutive '*'")]
    [TestCase("StringEquals: { env: prod }", "unknown condition key 'env'")]
    [TestCase("StringEquals: { request.tools: zendesk }", "unknown condition key 'request.tools'")]
    [TestCase("StringEquals: { \"context.\": x }", "the name after 'context.' must be")]
    [TestCase("StringEquals: {}", "must name at least one key")]
    [TestCase("DateLessThan: { context.d: x }", "unknown key 'DateLessThan'")]
    [TestCase("TimeOfDayBetween: { between: [\"9:00\", \"18:00\"], time_zone: UTC }", "is not a time of day")]
    [TestCase("TimeOfDayBetween: { between: [\"09:00\", \"24:01\"], time_zone: UTC }", "is not a time of day")]
    [TestCase("TimeOfDayBetween: { between: [\"09:00\"], time_zone: UTC }", "must be two times")]
    [TestCase("TimeOfDayBetween: { between: [\"09:00\", \"09:00\"], time_zone: UTC }", "is empty or the whole day")]
    [TestCase("TimeOfDayBetween: { between: [\"09:00\", \"18:00\"] }", "missing required key 'time_zone'")]
    [TestCase("TimeOfDayBetween: { between: [\"09:00\", \"18:00\"], time_zone: Mars/Olympus }", "not a time zone this system knows")]
    [TestCase("TimeOfDayBetween: { between: [\"09:00\", \"18:00\"], time_zone: \"../../etc/passwd\" }", "is not an IANA time zone name")]
    [TestCase("Weekday: { days: [mon, funday], time_zone: UTC }", "'funday' is not a day")]
    [TestCase("Weekday: { days: [mon, Monday], time_zone: UTC }", "is listed twice")]
    [TestCase("Weekday: { days: [], time_zone: UTC }", "must name at least one day")]
    public void Invalid_conditions_fail_the_load(string conditions, string problem) =>
        Assert.That(() => Allow(conditions), Throws.TypeOf<PolicyLoadException>().With.Property(nameof(PolicyLoadException.Problem)).Contains(problem));

    [Test]
    public void Condition_error_names_line_and_column_of_the_value()
    {
        var ex = Assert.Throws<PolicyLoadException>(() => Allow("StringEquals: { context.env: prod }\nNumericLessThan:\n  context.risk: high"))!;

        Assert.That((ex.Line, ex.Column), Is.EqualTo((10, 23)));
        Assert.That(ex.Problem, Is.EqualTo("rule 'r': conditions.NumericLessThan.context.risk must be a number (digits, optional '-' and fraction), not 'high'"));
    }

    [Test]
    public void Empty_conditions_block_is_refused() =>
        Assert.That(() => Allow("{}"), Throws.TypeOf<PolicyLoadException>().With.Message.Contains("conditions must name at least one operator"));

    private static string Indent(string text) => string.Concat(text.Split('\n').Select(l => "      " + l + "\n"));
}
