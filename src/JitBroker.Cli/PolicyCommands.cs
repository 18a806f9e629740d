using System.CommandLine;
using System.Globalization;
using JitBroker.Policy;

namespace JitBroker.Cli;

/// <summary>
/// <c>jitctl policy check|test|explain</c>: offline policy tooling. Thin by design — loading, the test runner and the
/// explainer live (and are tested) in JitBroker.Policy. Exit codes: 0 ok, 1 a test failed, 2 the policy, the
/// tests or the arguments are invalid.
/// </summary>
internal static class PolicyCommands
{
    public static Command Create() => new("policy", "Validate, test and explain policy without a broker.")
    {
        Check(),
        Test(),
        Explain(),
    };

    private static Command Check()
    {
        var path = PathArgument();
        var command = new Command("check", "Validate a policy file or directory (exit 0 valid, 2 invalid; errors as file:line:col).") { path };
        command.SetAction(result => WithPolicy(result.GetValue(path)!, policy =>
        {
            Console.WriteLine($"ok: {policy.RuleCount} rule(s) in {policy.SourceFiles.Count} file(s), {policy.ContentHash}");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Test()
    {
        var path = PathArgument();
        var tests = new Option<string?>("--tests") { Description = "Test file or directory (default: <DIR>/tests)." };
        var command = new Command("test", "Run policy unit tests written in YAML (exit 0 all pass, 1 any mismatch, 2 invalid).") { path, tests };
        command.SetAction(result => WithPolicy(result.GetValue(path)!, policy =>
        {
            var testsPath = result.GetValue(tests) ?? PolicyTestRunner.DefaultTestsPath(result.GetValue(path)!);
            var report = PolicyTestRunner.Run(policy, testsPath);
            foreach (var case_ in report.Results)
            {
                Console.WriteLine($"{(case_.Passed ? "PASS" : "FAIL")}  {case_.Source}:{case_.Line}  {case_.Name}");
                foreach (var mismatch in case_.Mismatches)
                {
                    Console.WriteLine($"        {mismatch}");
                }
            }

            Console.WriteLine($"{report.Passed} passed, {report.Failed} failed");
            return report.AllPassed ? ExitCodes.Ok : ExitCodes.Negative;
        }));
        return command;
    }

    private static Command Explain()
    {
        var path = PathArgument();
        var agent = new Option<string>("--agent") { Description = "Agent id: spiffe://td/… or issuer#subject.", Required = true };
        var trustDomain = new Option<string?>("--trust-domain") { Description = "Trust domain (default: from the agent id)." };
        var method = new Option<string?>("--method") { Description = "Attestation method: jwt-svid, oidc, x509-svid (default: from the agent id)." };
        var facts = new Option<string[]>("--fact") { Description = "Attested fact key=value, e.g. k8s.namespace=support (repeatable)." };
        var action = new Option<string>("--action") { Description = "Declared action, e.g. tickets.create.", Required = true };
        var target = new Option<string>("--target", "--audience") { Description = "Target (JWT audience or Vault target).", Required = true };
        var kind = new Option<string>("--kind") { Description = "Credential kind.", DefaultValueFactory = _ => "jwt" };
        var tools = new Option<string[]>("--tool") { Description = "Tool the task will call (repeatable)." };
        var resources = new Option<string[]>("--resource") { Description = "Resource the task touches (repeatable)." };
        var purpose = new Option<string>("--purpose") { Description = "Declared purpose.", DefaultValueFactory = _ => "" };
        var context = new Option<string[]>("--context") { Description = "Request context key=value (repeatable)." };
        var ttl = new Option<int?>("--ttl") { Description = "Requested lifetime in seconds." };
        var at = new Option<string?>("--at") { Description = "Decide at this instant (ISO 8601 with offset); default now." };
        var command = new Command("explain", "Dry-run one request and print the decision path.")
        {
            path, agent, trustDomain, method, facts, action, target, kind, tools, resources, purpose, context, ttl, at,
        };
        command.SetAction(result => WithPolicy(result.GetValue(path)!, policy =>
        {
            var probe = new PolicyProbe
            {
                Agent = result.GetValue(agent)!,
                TrustDomain = result.GetValue(trustDomain),
                Method = result.GetValue(method),
                Facts = Pairs(result.GetValue(facts), "--fact"),
                Action = result.GetValue(action)!,
                Target = result.GetValue(target)!,
                Kind = result.GetValue(kind)!,
                Tools = result.GetValue(tools) ?? [],
                Resources = result.GetValue(resources) ?? [],
                Purpose = result.GetValue(purpose)!,
                Context = Pairs(result.GetValue(context), "--context"),
                Ttl = result.GetValue(ttl) is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
            };
            DateTimeOffset? instant = result.GetValue(at) is { } text
                ? DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed) ? parsed
                    : throw new UsageException($"--at '{text}' is not an ISO 8601 time")
                : null;
            Console.Write(PolicyExplainer.Explain(policy, probe.ToIdentity(), probe.ToRequest(), instant).ToText());
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Argument<string> PathArgument() => new("DIR") { Description = "Policy directory (or a single policy file)." };

    /// <summary>Loads the policy and runs <paramref name="body"/>, turning every expected failure into message and exit code 2.</summary>
    private static int WithPolicy(string path, Func<YamlPolicyEngine, int> body)
    {
        try
        {
            return body(YamlPolicyEngine.Load(path));
        }
        catch (PolicyLoadException ex)
        {
            Console.Error.WriteLine("error: " + ex.Message);
            return ExitCodes.Usage;
        }
        catch (Exception ex) when (ex is UsageException or ArgumentException)
        {
            Console.Error.WriteLine("error: " + ex.Message);
            return ExitCodes.Usage;
        }
    }

    private static Dictionary<string, string> Pairs(string[]? values, string option)
    {
        var pairs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var value in values ?? [])
        {
            var equals = value.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new UsageException($"{option} '{value}' must be key=value");
            }

            pairs[value[..equals]] = value[(equals + 1)..];
        }

        return pairs;
    }
}
