using JitBroker.Core;
using JitBroker.Policy.Loading;
using JitBroker.Policy.Parsing;
using JitBroker.Policy.Tooling;

namespace JitBroker.Policy;

/// <summary>The outcome of one policy test case.</summary>
/// <param name="Source">The test file.</param>
/// <param name="Line">Line of the case in <paramref name="Source"/>.</param>
/// <param name="Name">The case's name.</param>
/// <param name="Passed">True when every expectation held.</param>
/// <param name="Mismatches">One line per expectation that did not hold; empty when passed.</param>
/// <param name="Decision">What the policy decided on a request case (null for a delegation case, or when the request itself could not be built).</param>
public sealed record PolicyTestCaseResult(string Source, int Line, string Name, bool Passed, IReadOnlyList<string> Mismatches, PolicyDecision? Decision)
{
    /// <summary>What the policy decided on a delegation case; null for a request case.</summary>
    public DelegationDecision? Delegation { get; init; }
}

/// <summary>All case results of a run, in file and case order.</summary>
public sealed record PolicyTestReport(IReadOnlyList<PolicyTestCaseResult> Results)
{
    public int Passed => Results.Count(r => r.Passed);

    public int Failed => Results.Count(r => !r.Passed);

    /// <summary>True when there was at least one case and every case passed.</summary>
    public bool AllPassed => Results.Count > 0 && Failed == 0;
}

/// <summary>
/// Runs policy unit tests written in YAML (format in docs/policy.md): each case is a request — agent, facts,
/// action, target, tools, resources, purpose, context, TTL, optionally a fixed instant — and the decision it must
/// get: effect and rule ids, optionally the granted tools, resources, TTL, reason, issuer parameters and approval.
/// A delegation case names a planner, a worker and an action and expects allow or deny, the rule ids and optionally
/// the maximum depth and reason.
/// </summary>
public static class PolicyTestRunner
{
    /// <summary>The tests directory used when none is named: <c>tests</c> next to (or inside) the policy directory.</summary>
    public static string DefaultTestsPath(string policyPath) =>
        Directory.Exists(policyPath) ? Path.Combine(policyPath, "tests") : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(policyPath))!, "tests");

    /// <summary>
    /// Runs every case of the test file, or of every <c>*.yaml</c>/<c>*.yml</c> file directly in the test directory,
    /// against <paramref name="policy"/>. Throws <see cref="PolicyLoadException"/> when a test file is malformed or
    /// there is none: a test suite that silently ran nothing would pass.
    /// </summary>
    public static PolicyTestReport Run(YamlPolicyEngine policy, string testsPath)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentException.ThrowIfNullOrEmpty(testsPath);
        if (Directory.Exists(testsPath) && !Directory.EnumerateFiles(testsPath).Any(f => PolicySource.IsPolicyFileName(Path.GetFileName(f))))
        {
            throw new PolicyLoadException(testsPath, 0, 0, "the test directory holds no test files (*.yaml, *.yml)");
        }

        var files = PolicySource.Read(testsPath).Files;
        var cases = files.SelectMany(PolicyTestReader.Read).ToList();
        return new PolicyTestReport([.. cases.Select(c => RunCase(policy, c))]);
    }

    private static PolicyTestCaseResult RunCase(YamlPolicyEngine policy, PolicyTestCase testCase)
    {
        if (testCase.Delegation is { } delegation)
        {
            return RunDelegationCase(policy, testCase, delegation);
        }

        var probe = testCase.Probe!;
        WorkloadIdentity identity;
        try
        {
            identity = probe.ToIdentity();
        }
        catch (ArgumentException ex)
        {
            return new PolicyTestCaseResult(testCase.Source, testCase.Line, testCase.Name, false, [ex.Message], null);
        }

        var time = probe.At is { } at ? new FixedTimeProvider(at) : policy.TimeProvider;
        var decision = policy.Decide(identity, probe.ToRequest(), time);
        var mismatches = Compare(testCase.Expect, decision);
        return new PolicyTestCaseResult(testCase.Source, testCase.Line, testCase.Name, mismatches.Count == 0, mismatches, decision);
    }

    private static PolicyTestCaseResult RunDelegationCase(YamlPolicyEngine policy, PolicyTestCase testCase, DelegationProbe probe)
    {
        WorkloadIdentity planner;
        try
        {
            planner = probe.ToPlannerIdentity();
        }
        catch (ArgumentException ex)
        {
            return new PolicyTestCaseResult(testCase.Source, testCase.Line, testCase.Name, false, [ex.Message], null);
        }

        var decision = policy.Decide(planner, probe.Worker, probe.Action);
        var expect = testCase.Expect;
        var mismatches = new List<string>();
        var effect = decision.Allowed ? DecisionEffect.Allow : DecisionEffect.Deny;
        if (expect.Effect != effect)
        {
            mismatches.Add($"effect: expected {Name(expect.Effect)}, got {Name(effect)} ({decision.Reason})");
        }

        CompareList(mismatches, "rule_ids", expect.RuleIds, decision.RuleIds);
        if (expect.MaxDepth is { } depth && depth != decision.MaxDepth)
        {
            mismatches.Add($"max_depth: expected {depth}, got {decision.MaxDepth}");
        }

        CompareReason(mismatches, expect, decision.Reason);
        return new PolicyTestCaseResult(testCase.Source, testCase.Line, testCase.Name, mismatches.Count == 0, mismatches, null)
        {
            Delegation = decision,
        };
    }

    private static void CompareReason(List<string> mismatches, PolicyExpectation expect, string actual)
    {
        if (expect.Reason is { } reason && reason != actual)
        {
            mismatches.Add($"reason: expected '{reason}', got '{actual}'");
        }

        if (expect.ReasonContains is { } part && !actual.Contains(part, StringComparison.Ordinal))
        {
            mismatches.Add($"reason: expected to contain '{part}', got '{actual}'");
        }
    }

    private static List<string> Compare(PolicyExpectation expect, PolicyDecision decision)
    {
        var mismatches = new List<string>();
        if (expect.Effect != decision.Effect)
        {
            mismatches.Add($"effect: expected {Name(expect.Effect)}, got {Name(decision.Effect)} ({decision.Reason})");
        }

        CompareList(mismatches, "rule_ids", expect.RuleIds, decision.RuleIds);
        var grant = decision.Grant;
        if (expect.Tools is not null)
        {
            CompareList(mismatches, "tools", expect.Tools, grant?.Scope.Tools);
        }

        if (expect.Resources is not null)
        {
            CompareList(mismatches, "resources", expect.Resources, grant?.Scope.Resources);
        }

        if (expect.Ttl is { } ttl && grant?.Ttl != ttl)
        {
            mismatches.Add($"ttl: expected {PolicyDuration.Format(ttl)}, got {(grant is null ? "no grant" : PolicyDuration.Format(grant.Ttl))}");
        }

        CompareReason(mismatches, expect, decision.Reason);

        if (expect.IssuerParameters is { } parameters)
        {
            var actual = grant?.IssuerParameters ?? new Dictionary<string, string>();
            if (parameters.Count != actual.Count || parameters.Any(p => !actual.TryGetValue(p.Key, out var v) || v != p.Value))
            {
                mismatches.Add($"issuer_parameters: expected {Format(parameters)}, got {Format(actual)}");
            }
        }

        if (expect.Approvers is not null)
        {
            CompareList(mismatches, "approvers", expect.Approvers, decision.Approval?.Approvers);
        }

        if (expect.ApprovalTimeout is { } timeout && decision.Approval?.Timeout != timeout)
        {
            mismatches.Add($"approval_timeout: expected {PolicyDuration.Format(timeout)}, got {(decision.Approval is null ? "no approval" : PolicyDuration.Format(decision.Approval.Timeout))}");
        }

        return mismatches;
    }

    private static void CompareList(List<string> mismatches, string field, IReadOnlyList<string> expected, IReadOnlyList<string>? actual)
    {
        if (actual is null || !expected.SequenceEqual(actual, StringComparer.Ordinal))
        {
            mismatches.Add($"{field}: expected [{string.Join(", ", expected)}], got {(actual is null ? "nothing" : $"[{string.Join(", ", actual)}]")}");
        }
    }

    internal static string Name(DecisionEffect effect) => effect switch
    {
        DecisionEffect.Allow => "allow",
        DecisionEffect.Deny => "deny",
        _ => "needs_approval",
    };

    private static string Format(IReadOnlyDictionary<string, string> map) =>
        "{" + string.Join(", ", map.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}: {p.Value}")) + "}";
}
