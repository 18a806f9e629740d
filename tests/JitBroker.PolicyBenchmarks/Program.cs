using System.Diagnostics;
using System.Globalization;
using JitBroker.Core;
using JitBroker.Policy;
using JitBroker.PolicyBenchmarks;

// Decision cost at 1,000 rules: ns and bytes allocated per Decide, median of several runs, single thread.
var runs = ArgInt("--runs", 7);
var iterations = ArgInt("--iterations", 200_000);

var realistic = YamlPolicyEngine.Parse(GeneratedPolicy.Realistic(), "generated-realistic.yaml");
var adversarial = YamlPolicyEngine.Parse(GeneratedPolicy.AllCandidates(), "generated-all-candidates.yaml");

var context = new Dictionary<string, string> { ["env"] = "production", ["sensitivity"] = "2", ["change_ticket"] = "CHG-42" };
var team1 = Spiffe("spiffe://td2.example/agents/team1-bot");

// In the realistic set a lookup yields ~10 candidates (the agent's trust domain and action family, plus the unkeyed
// guardrails and the issuer-only rules). The last case defeats the index on purpose: every rule is a candidate.
var cases = new (string Name, YamlPolicyEngine Policy, WorkloadIdentity Agent, CredentialRequest Request)[]
{
    ("typical: allowed by a rule with conditions, tools and resources intersected", realistic, team1,
        Request("fam18.read", "https://svc18.example", ["tool-18", "crm-sales"], ["fam18/42", "shared/a/b"], context)),
    ("typical: denied by a guardrail (missing change ticket)", realistic, team1,
        Request("fam18.delete", "https://svc18.example", [], [], new Dictionary<string, string> { ["env"] = "production" })),
    ("worst (realistic set): every candidate evaluated, conditions fail, default deny", realistic, team1,
        Request("fam18.read", "https://svc18.example", ["tool-18"], ["fam18/42"], new Dictionary<string, string> { ["env"] = "dev", ["sensitivity"] = "9" })),
    ("OIDC workload: namespace/service-account rules, time condition", realistic, Oidc("ns3", "job-13-nightly"),
        Request("fam13.read", "https://svc13.example", [], ["fam13/7"], context)),
    ("adversarial bound: 1,000 candidates, each fully evaluated, default deny", adversarial, Spiffe("spiffe://td0.example/agents/x"),
        Request("fam0.read", "https://svc0.example", ["crm-a"], ["shared/x"], new Dictionary<string, string> { ["env"] = "production", ["sensitivity"] = "5" })),
};

Console.WriteLine($"policy: {realistic.RuleCount} rules (realistic), {adversarial.RuleCount} rules (adversarial); " +
    $"{runs} runs x {iterations} decisions ({iterations / 100} for the adversarial case); median per decision; single thread");
Console.WriteLine();
Console.WriteLine("| case | decision | ns/decision (median) | min..max of runs | bytes allocated/decision |");
Console.WriteLine("|---|---|---:|---:|---:|");
foreach (var (name, policy, agent, request) in cases)
{
    // The adversarial case is ~500 times slower; fewer iterations keep its runs as long as the others'.
    var count = policy == adversarial ? Math.Max(1, iterations / 100) : iterations;
    var decision = policy.Decide(agent, request);
    // Warm-up: enough calls for tiered compilation to reach its optimised code.
    for (var i = 0; i < (policy == adversarial ? 300 : 50_000); i++)
    {
        policy.Decide(agent, request);
    }

    var nanos = new double[runs];
    var bytes = new double[runs];
    for (var run = 0; run < runs; run++)
    {
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            policy.Decide(agent, request);
        }

        watch.Stop();
        bytes[run] = (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / (double)count;
        nanos[run] = watch.Elapsed.TotalNanoseconds / count;
    }

    Array.Sort(nanos);
    Array.Sort(bytes);
    var effect = $"{decision.Effect} [{string.Join(",", decision.RuleIds)}]";
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {name} | {effect} | {nanos[runs / 2]:0} | {nanos[0]:0}..{nanos[^1]:0} | {bytes[runs / 2]:0} |"));
}

return 0;

int ArgInt(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

static WorkloadIdentity Spiffe(string id) => new()
{
    Id = id,
    TrustDomain = new Uri(id).Host,
    Method = "jwt-svid",
    EvidenceFingerprint = "bench",
};

static WorkloadIdentity Oidc(string ns, string serviceAccount) => new()
{
    Id = $"{GeneratedPolicy.Issuer}#system:serviceaccount:{ns}:{serviceAccount}",
    TrustDomain = GeneratedPolicy.Issuer,
    Method = "oidc",
    Facts = new Dictionary<string, string>
    {
        ["iss"] = GeneratedPolicy.Issuer,
        ["k8s.namespace"] = ns,
        ["k8s.service_account"] = serviceAccount,
    },
    EvidenceFingerprint = "bench",
};

static CredentialRequest Request(string action, string target, string[] tools, string[] resources, Dictionary<string, string> context) =>
    new("task-1", new TaskIntent(action, "benchmark purpose", tools, resources, context), "jwt", target, TimeSpan.FromMinutes(5));
