using JitBroker.Core;

namespace JitBroker.Policy.Tests;

/// <summary>Builders for identities and requests, shaped the way the broker hands them to policy.</summary>
internal static class TestData
{
    public const string DevDomain = "dev.jitbroker.local";
    public const string SupportBot = "spiffe://dev.jitbroker.local/agents/support-bot";
    public const string ReportingBot = "spiffe://dev.jitbroker.local/agents/reporting-bot";
    public const string TicketsAudience = "https://tickets.internal.example";
    public const string ReportsAudience = "https://reports.internal.example";

    /// <summary>A SPIFFE identity; the trust domain is taken from the ID unless given.</summary>
    public static WorkloadIdentity Agent(string spiffeId, string? trustDomain = null) => new()
    {
        Id = spiffeId,
        TrustDomain = trustDomain ?? new Uri(spiffeId).Host,
        Method = "jwt-svid",
        EvidenceFingerprint = "sha256:test",
    };

    public const string K8sIssuer = "https://oidc.k8s.example";

    /// <summary>An OIDC identity the way the attestation helper builds it: id issuer#sub, trust domain = issuer.</summary>
    public static WorkloadIdentity Oidc(string issuer, string subject, string? ns = null, string? serviceAccount = null)
    {
        var facts = new Dictionary<string, string> { ["iss"] = issuer, ["sub"] = subject };
        if (ns is not null)
        {
            facts["k8s.namespace"] = ns;
        }

        if (serviceAccount is not null)
        {
            facts["k8s.service_account"] = serviceAccount;
        }

        return new WorkloadIdentity
        {
            Id = $"{issuer}#{subject}",
            TrustDomain = issuer,
            Method = "oidc",
            Facts = facts,
            EvidenceFingerprint = "sha256:test",
        };
    }

    public static CredentialRequest Request(
        string action,
        string target,
        string[]? tools = null,
        string[]? resources = null,
        string kind = "jwt",
        TimeSpan? ttl = null,
        IReadOnlyDictionary<string, string>? context = null,
        string purpose = "test purpose") =>
        new(
            TaskId: "task-1",
            Intent: new TaskIntent(action, purpose, tools ?? [], resources ?? [], context ?? new Dictionary<string, string>()),
            CredentialKind: kind,
            Target: target,
            RequestedTtl: ttl);

    /// <summary>Joins lines with '\n' so that a test's line numbers are the array's index + 1.</summary>
    public static string Lines(params string[] lines) => string.Join('\n', lines) + "\n";
}
