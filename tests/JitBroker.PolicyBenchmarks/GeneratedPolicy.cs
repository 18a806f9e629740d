using System.Globalization;
using System.Text;

namespace JitBroker.PolicyBenchmarks;

/// <summary>
/// Builds a realistic 1,000-rule policy: 5 SPIFFE trust domains, 50 action families, allow rules for agent teams
/// (a third with conditions, some with a purpose requirement or approval), Kubernetes/OIDC rules (half pinned to
/// the issuer as trust domain, half by issuer only, so they are candidates for every agent), and deny guardrails
/// (unkeyed "*.delete"-style actions, so they too are candidates for every request).
/// </summary>
internal static class GeneratedPolicy
{
    public const int Domains = 5;
    public const int Families = 50;
    public const string Issuer = "https://oidc.k8s.bench.example";

    public static string Realistic()
    {
        var yaml = new StringBuilder("version: 1\ndefaults:\n  max_ttl: 1h\nrules:\n");
        var id = 0;

        // 100 deny guardrails.
        for (var i = 0; i < 100; i++)
        {
            var conditions = i % 2 == 0
                ? $"    conditions:\n      StringEquals: {{ context.env: production }}\n      StringNotLike: {{ context.change_ticket: \"CHG-*\" }}\n"
                : string.Empty;
            var actions = i % 4 == 0 ? "[\"*.delete\", \"*.purge\"]" : $"[\"fam{i % Families}.admin\"]";
            yaml.Append(CultureInfo.InvariantCulture, $"  - id: deny-{id++}\n    effect: deny\n    principals: {{ trust_domains: [td{i % Domains}.example] }}\n")
                .Append(CultureInfo.InvariantCulture, $"    actions: {actions}\n{conditions}");
        }

        // 800 allow rules for agent teams.
        for (var i = 0; i < 800; i++)
        {
            var domain = i % Domains;
            var family = i / Domains % Families;
            var team = i / (Domains * Families);
            yaml.Append(CultureInfo.InvariantCulture, $"  - id: allow-{id++}\n    effect: allow\n")
                .Append(CultureInfo.InvariantCulture, $"    principals: {{ spiffe_ids: [\"spiffe://td{domain}.example/agents/team{team}-*\"] }}\n")
                .Append(CultureInfo.InvariantCulture, $"    actions: [\"fam{family}.read\", \"fam{family}.list\"{(i % 7 == 0 ? $", \"fam{family}.write\"" : string.Empty)}]\n")
                .Append(CultureInfo.InvariantCulture, $"    tools: [\"tool-{family}\", \"crm-*\"]\n    resources: [\"fam{family}/*\", \"shared/**\"]\n");
            if (i % 3 == 0)
            {
                yaml.Append("    conditions:\n      StringEquals: { context.env: [staging, production] }\n      NumericLessThanEquals: { context.sensitivity: 3 }\n");
            }

            if (i % 10 == 0)
            {
                yaml.Append("    require_purpose: true\n");
            }

            if (i % 20 == 0)
            {
                yaml.Append("    approval: { approvers: [\"spiffe://corp.example/humans/*\"], timeout: 15m }\n");
            }

            yaml.Append(CultureInfo.InvariantCulture, $"    credential: {{ audiences: [\"https://svc{family}.example\"], scopes: [\"fam{family}:read\"], max_ttl: 10m }}\n");
        }

        // 100 Kubernetes workload rules.
        for (var i = 0; i < 100; i++)
        {
            var family = i % Families;
            var anchor = i % 2 == 0 ? $"trust_domains: [\"{Issuer}\"]" : $"issuers: [\"{Issuer}\"]";
            yaml.Append(CultureInfo.InvariantCulture, $"  - id: k8s-{id++}\n    effect: allow\n")
                .Append(CultureInfo.InvariantCulture, $"    principals: {{ {anchor}, namespaces: [ns{i % 10}], service_accounts: [\"job-{family}-*\"] }}\n")
                .Append(CultureInfo.InvariantCulture, $"    actions: [\"fam{family}.read\"]\n    resources: [\"fam{family}/*\"]\n")
                .Append("    conditions:\n      TimeOfDayBetween: { between: [\"06:00\", \"22:00\"], time_zone: Europe/Berlin }\n")
                .Append(CultureInfo.InvariantCulture, $"    credential: {{ audiences: [\"https://svc{family}.example\"], max_ttl: 5m }}\n");
        }

        return yaml.ToString();
    }

    /// <summary>
    /// The adversarial bound: 1,000 rules that are all candidates for one request (unkeyed action pattern, same
    /// trust domain, matching principal) and each fails only at its last condition, so every rule is fully evaluated.
    /// </summary>
    public static string AllCandidates()
    {
        var yaml = new StringBuilder("version: 1\nrules:\n");
        for (var i = 0; i < 1000; i++)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"  - id: r-{i}\n    effect: allow\n")
                .Append("    principals: { spiffe_ids: [\"spiffe://td0.example/agents/**\"] }\n    actions: [\"*.read\"]\n")
                .Append("    tools: [\"crm-*\"]\n    resources: [\"shared/**\"]\n")
                .Append("    conditions:\n      StringEquals: { context.env: [staging, production] }\n")
                .Append(CultureInfo.InvariantCulture, $"      NumericLessThan: {{ context.sensitivity: {i % 3} }}\n")
                .Append("    credential: { audiences: [\"https://svc0.example\"], max_ttl: 10m }\n");
        }

        return yaml.ToString();
    }
}
