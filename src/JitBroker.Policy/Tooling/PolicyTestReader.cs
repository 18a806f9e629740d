using System.Globalization;
using JitBroker.Core;
using JitBroker.Policy.Loading;
using JitBroker.Policy.Model;
using JitBroker.Policy.Parsing;
using YamlDotNet.RepresentationModel;

namespace JitBroker.Policy.Tooling;

/// <summary>What a policy test case expects. Optional parts are checked only when written.</summary>
internal sealed record PolicyExpectation(
    DecisionEffect Effect,
    IReadOnlyList<string> RuleIds,
    IReadOnlyList<string>? Tools,
    IReadOnlyList<string>? Resources,
    TimeSpan? Ttl,
    string? Reason,
    string? ReasonContains,
    IReadOnlyDictionary<string, string>? IssuerParameters,
    IReadOnlyList<string>? Approvers,
    TimeSpan? ApprovalTimeout,
    int? MaxDepth = null);

/// <summary>One case: exactly one of <see cref="Probe"/> (a credential request) or <see cref="Delegation"/>.</summary>
internal sealed record PolicyTestCase(string Source, int Line, string Name, PolicyProbe? Probe, DelegationProbe? Delegation, PolicyExpectation Expect);

/// <summary>
/// Reads policy test files (format in docs/policy.md) with the same strictness as policy: unknown keys, wrong
/// types and bad values fail with <c>file:line:column</c>.
/// </summary>
internal static class PolicyTestReader
{
    private static readonly string[] FileKeys = ["description", "cases"];
    private static readonly string[] CaseKeys = ["name", "at", "request", "delegation", "expect"];
    private static readonly string[] DelegationKeys = ["planner", "trust_domain", "method", "facts", "worker", "action"];
    private static readonly string[] DelegationExpectKeys = ["effect", "rule_ids", "max_depth", "reason", "reason_contains"];
    private static readonly string[] RequestKeys =
        ["agent", "trust_domain", "method", "facts", "action", "target", "kind", "tools", "resources", "purpose", "context", "ttl", "task"];
    private static readonly string[] ExpectKeys =
        ["effect", "rule_ids", "tools", "resources", "ttl", "reason", "reason_contains", "issuer_parameters", "approvers", "approval_timeout"];

    public static List<PolicyTestCase> Read(PolicyFileText file)
    {
        var errors = new PolicyErrors(file.Path);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(file.Text));
        }
        catch (YamlDotNet.Core.YamlException ex)
        {
            throw new PolicyLoadException(file.Path, (int)ex.Start.Line, (int)ex.Start.Column, $"invalid YAML: {ex.Message}", ex);
        }

        if (stream.Documents.Count != 1)
        {
            throw new PolicyLoadException(file.Path, 1, 1, "a policy test file must hold exactly one YAML document");
        }

        var root = stream.Documents[0].RootNode;
        YamlNodes.RejectAnchorsAndTags(errors, root);
        var document = YamlMapping.Of(errors, root, "the test file");
        document.RejectUnknownKeys("the test file", FileKeys);
        var casesNode = document.Require("cases", "the test file");
        if (casesNode is not YamlSequenceNode { Children.Count: > 0 } caseNodes)
        {
            throw errors.At(casesNode, "cases must be a non-empty list of test cases");
        }

        var cases = new List<PolicyTestCase>();
        foreach (var caseNode in caseNodes.Children)
        {
            var testCase = ReadCase(errors, caseNode);
            if (cases.Any(c => c.Name == testCase.Name))
            {
                throw errors.At(caseNode, $"test case name '{testCase.Name}' is used twice in this file");
            }

            cases.Add(testCase);
        }

        return cases;
    }

    private static PolicyTestCase ReadCase(PolicyErrors errors, YamlNode node)
    {
        var map = YamlMapping.Of(errors, node, "a test case");
        var name = YamlNodes.ReadString(errors, map.Require("name", "a test case"), "name");
        var owner = $"test case '{name}'";
        map.RejectUnknownKeys(owner, CaseKeys);
        var hasRequest = map.TryGet("request", out var requestNode);
        var hasDelegation = map.TryGet("delegation", out var delegationNode);
        if (hasRequest == hasDelegation)
        {
            throw errors.At(node, $"{owner} needs exactly one of 'request' (a credential request) or 'delegation'");
        }

        if (hasDelegation)
        {
            if (map.KeyNode("at") is { } atKey)
            {
                throw errors.At(atKey, $"{owner}: 'at' applies only to request cases; a delegation decision does not depend on the time");
            }

            var delegation = ReadDelegation(errors, delegationNode, owner);
            var delegationExpect = ReadExpect(errors, map.Require("expect", owner), owner, forDelegation: true);
            return new PolicyTestCase(errors.SourceName, (int)node.Start.Line, name, null, delegation, delegationExpect);
        }

        DateTimeOffset? at = map.TryGet("at", out var atNode) ? ReadInstant(errors, atNode, $"{owner}: at") : null;
        var probe = ReadRequest(errors, requestNode, owner) with { At = at };
        var expect = ReadExpect(errors, map.Require("expect", owner), owner, forDelegation: false);
        return new PolicyTestCase(errors.SourceName, (int)node.Start.Line, name, probe, null, expect);
    }

    private static DelegationProbe ReadDelegation(PolicyErrors errors, YamlNode node, string owner)
    {
        var field = $"{owner}: delegation";
        var map = YamlMapping.Of(errors, node, field);
        map.RejectUnknownKeys($"{owner} delegation", DelegationKeys);
        string? Text(string key) => map.TryGet(key, out var n) ? YamlNodes.ReadString(errors, n, $"{field}.{key}") : null;
        return new DelegationProbe
        {
            Planner = YamlNodes.ReadString(errors, map.Require("planner", field), $"{field}.planner"),
            TrustDomain = Text("trust_domain"),
            Method = Text("method"),
            Facts = map.TryGet("facts", out var facts) ? ReadStringMap(errors, facts, $"{field}.facts") : new Dictionary<string, string>(),
            Worker = YamlNodes.ReadString(errors, map.Require("worker", field), $"{field}.worker"),
            Action = YamlNodes.ReadString(errors, map.Require("action", field), $"{field}.action"),
        };
    }

    private static PolicyProbe ReadRequest(PolicyErrors errors, YamlNode node, string owner)
    {
        var field = $"{owner}: request";
        var map = YamlMapping.Of(errors, node, field);
        map.RejectUnknownKeys($"{owner} request", RequestKeys);
        string? Text(string key) => map.TryGet(key, out var n) ? YamlNodes.ReadString(errors, n, $"{field}.{key}") : null;
        return new PolicyProbe
        {
            Agent = YamlNodes.ReadString(errors, map.Require("agent", field), $"{field}.agent"),
            TrustDomain = Text("trust_domain"),
            Method = Text("method"),
            Facts = map.TryGet("facts", out var facts) ? ReadStringMap(errors, facts, $"{field}.facts") : new Dictionary<string, string>(),
            Action = YamlNodes.ReadString(errors, map.Require("action", field), $"{field}.action"),
            Target = YamlNodes.ReadString(errors, map.Require("target", field), $"{field}.target"),
            Kind = Text("kind") ?? "jwt",
            Tools = map.TryGet("tools", out var tools) ? Strings(errors, tools, $"{field}.tools") : [],
            Resources = map.TryGet("resources", out var resources) ? Strings(errors, resources, $"{field}.resources") : [],
            Purpose = Text("purpose") ?? string.Empty,
            Context = map.TryGet("context", out var context) ? ReadStringMap(errors, context, $"{field}.context") : new Dictionary<string, string>(),
            Ttl = map.TryGet("ttl", out var ttl) ? ReadDuration(errors, ttl, $"{field}.ttl") : null,
            TaskId = Text("task") ?? "policy-test",
        };
    }

    private static PolicyExpectation ReadExpect(PolicyErrors errors, YamlNode node, string owner, bool forDelegation)
    {
        var field = $"{owner}: expect";
        var map = YamlMapping.Of(errors, node, field);
        map.RejectUnknownKeys($"{owner} expect", forDelegation ? DelegationExpectKeys : ExpectKeys);
        var effectNode = map.Require("effect", field);
        var effect = YamlNodes.ReadString(errors, effectNode, $"{field}.effect") switch
        {
            "allow" => DecisionEffect.Allow,
            "deny" => DecisionEffect.Deny,
            "needs_approval" when !forDelegation => DecisionEffect.NeedsApproval,
            var other => throw errors.At(effectNode, forDelegation
                ? $"{field}.effect must be allow or deny for a delegation, not '{other}'"
                : $"{field}.effect must be allow, deny or needs_approval, not '{other}'"),
        };
        string? Text(string key) => map.TryGet(key, out var n) ? YamlNodes.ReadString(errors, n, $"{field}.{key}") : null;
        IReadOnlyList<string>? List(string key) => map.TryGet(key, out var n) ? Strings(errors, n, $"{field}.{key}") : null;

        // rule_ids is required: a test that does not say which rule decided proves less than it seems.
        return new PolicyExpectation(
            effect,
            Strings(errors, map.Require("rule_ids", field), $"{field}.rule_ids"),
            List("tools"),
            List("resources"),
            map.TryGet("ttl", out var ttl) ? ReadDuration(errors, ttl, $"{field}.ttl") : null,
            Text("reason"),
            Text("reason_contains"),
            map.TryGet("issuer_parameters", out var parameters) ? ReadStringMap(errors, parameters, $"{field}.issuer_parameters") : null,
            List("approvers"),
            map.TryGet("approval_timeout", out var timeout) ? ReadDuration(errors, timeout, $"{field}.approval_timeout") : null,
            map.TryGet("max_depth", out var depth) ? YamlNodes.ReadInt(errors, depth, $"{field}.max_depth", 0, DelegationRule.DepthLimit) : null);
    }

    private static List<string> Strings(PolicyErrors errors, YamlNode node, string field) =>
        [.. YamlNodes.ReadStringList(errors, node, field).Select(e => e.Value)];

    private static Dictionary<string, string> ReadStringMap(PolicyErrors errors, YamlNode node, string field)
    {
        var map = YamlMapping.Of(errors, node, field);
        return map.Entries.ToDictionary(e => e.Key, e => YamlNodes.ReadString(errors, e.Value, $"{field}.{e.Key}"), StringComparer.Ordinal);
    }

    private static TimeSpan ReadDuration(PolicyErrors errors, YamlNode node, string field) =>
        PolicyDuration.TryParse(YamlNodes.ReadString(errors, node, field), field, out var duration, out var problem)
            ? duration
            : throw errors.At(node, problem!);

    private static DateTimeOffset ReadInstant(PolicyErrors errors, YamlNode node, string field)
    {
        var text = YamlNodes.ReadString(errors, node, field);

        // An offset is required: a test's verdict must not depend on the machine it runs on.
        var hasOffset = text.EndsWith('Z') || (text.Length > 6 && text[^6] is '+' or '-' && text[^3] == ':');
        return hasOffset && DateTimeOffset.TryParseExact(text, ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mmK"],
                CultureInfo.InvariantCulture, DateTimeStyles.None, out var instant)
            ? instant
            : throw errors.At(node, $"{field} '{text}' must be an ISO 8601 time with an offset, for example 2026-11-23T09:30:00+01:00 or …Z");
    }
}
