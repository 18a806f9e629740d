using System.Text.Json;
using JitBroker.Core;
using static JitBroker.Attestation.TokenValidationContext;

namespace JitBroker.Attestation;

/// <summary>
/// Step 6d (OIDC): <c>sub</c> is a non-empty string of at most 1024 characters without control characters
/// and, when the issuer has subject patterns, matches one of them (<see cref="GlobPattern"/>: <c>*</c> stops at <c>:</c>
/// and <c>/</c>, so <c>system:serviceaccount:agents:*</c> cannot reach into another namespace).
/// </summary>
internal sealed class OidcSubjectStep(IReadOnlyList<GlobPattern> patterns) : SyncTokenValidationStep
{
    public const int MaxSubjectLength = 1024;

    public override void Validate(TokenValidationContext context)
    {
        if (!context.Claims.TryGetProperty("sub", out var sub) || sub.ValueKind != JsonValueKind.String
            || sub.GetString() is not { Length: > 0 and <= MaxSubjectLength } subject || subject.Any(char.IsControl))
        {
            throw Reject(Reasons.Attestation.SubInvalid, $"The token 'sub' must be a non-empty string of at most {MaxSubjectLength} characters without control characters.");
        }

        if (patterns.Count > 0 && !patterns.Any(p => p.IsMatch(subject)))
        {
            throw Reject(Reasons.Attestation.SubNotAllowed, "The token's subject is not one this issuer's workloads are accepted as.");
        }

        context.OidcSubject = subject;
    }
}

/// <summary>
/// Step 6e (OIDC): when the token carries the Kubernetes claim <c>kubernetes.io</c> (projected service
/// account tokens), its namespace, service account and pod are reported as facts (<c>k8s.namespace</c>,
/// <c>k8s.service_account</c>, <c>k8s.service_account_uid</c>, <c>k8s.pod</c>, <c>k8s.pod_uid</c>). The
/// claim must be well-formed and agree with <c>sub</c> (<c>system:serviceaccount:&lt;ns&gt;:&lt;name&gt;</c>),
/// so policy never sees two different answers to "which service account is this".
/// </summary>
internal sealed class KubernetesClaimsStep : SyncTokenValidationStep
{
    public const string NamespaceFact = "k8s.namespace";
    public const string ServiceAccountFact = "k8s.service_account";
    public const string ServiceAccountUidFact = "k8s.service_account_uid";
    public const string PodFact = "k8s.pod";
    public const string PodUidFact = "k8s.pod_uid";

    private const int MaxNameLength = 253; // Kubernetes object names are DNS subdomains at most

    public override void Validate(TokenValidationContext context)
    {
        if (!context.Claims.TryGetProperty("kubernetes.io", out var k8s))
        {
            return;
        }

        if (k8s.ValueKind != JsonValueKind.Object
            || Name(k8s, "namespace") is not { } ns
            || !k8s.TryGetProperty("serviceaccount", out var serviceAccount) || serviceAccount.ValueKind != JsonValueKind.Object
            || Name(serviceAccount, "name") is not { } serviceAccountName)
        {
            throw Invalid();
        }

        if (!string.Equals(context.OidcSubject, $"system:serviceaccount:{ns}:{serviceAccountName}", StringComparison.Ordinal))
        {
            throw Reject(Reasons.Attestation.ClaimInvalid, "The token's 'kubernetes.io' claim names another service account than its 'sub'.");
        }

        var facts = context.ExtraFacts;
        facts[NamespaceFact] = ns;
        facts[ServiceAccountFact] = serviceAccountName;
        AddOptional(facts, ServiceAccountUidFact, serviceAccount, "uid");
        if (k8s.TryGetProperty("pod", out var pod))
        {
            if (pod.ValueKind != JsonValueKind.Object || Name(pod, "name") is not { } podName)
            {
                throw Invalid();
            }

            facts[PodFact] = podName;
            AddOptional(facts, PodUidFact, pod, "uid");
        }
    }

    private static string? Name(JsonElement obj, string member) =>
        JsonStrict.OptionalString(obj, member) is { Length: > 0 and <= MaxNameLength } name && !name.Contains(':', StringComparison.Ordinal) ? name : null;

    private static void AddOptional(Dictionary<string, string> facts, string fact, JsonElement obj, string member)
    {
        if (obj.TryGetProperty(member, out _))
        {
            facts[fact] = Name(obj, member) ?? throw Invalid();
        }
    }

    private static BrokerException Invalid() =>
        Reject(Reasons.Attestation.ClaimInvalid, "The token's 'kubernetes.io' claim is not well-formed (namespace, serviceaccount.name, optional pod.name and uids).");
}
