using System.Diagnostics.CodeAnalysis;
using JitBroker.Core;

namespace JitBroker.Policy;

/// <summary>Whether the policy in force would still grant an active lease, and why not.</summary>
/// <param name="StillGranted">True when the policy grants the lease's exact scope, kind and lifetime.</param>
/// <param name="Decision">The decision for the reconstructed request (for the audit record).</param>
/// <param name="Reason">One line: why it is still granted, or what the policy no longer grants.</param>
public sealed record LeaseVerdict(bool StillGranted, PolicyDecision Decision, string Reason);

/// <summary>
/// Re-evaluates an existing lease against a policy (after a reload, on renewal). The lease is turned back into the
/// identity and request that produced it: the identity from <see cref="Lease.AgentId"/> and
/// <see cref="Lease.AgentFacts"/> (which must hold <see cref="TrustDomainFact"/> and <see cref="MethodFact"/>), the
/// request from the granted scope — what the agent holds, not what it once asked for — with the lease's full
/// lifetime as the requested TTL.
/// </summary>
public static class LeaseReevaluation
{
    /// <summary>Fact holding <see cref="WorkloadIdentity.TrustDomain"/>; the broker stores it in <see cref="Lease.AgentFacts"/>.</summary>
    public const string TrustDomainFact = "trust_domain";

    /// <summary>Fact holding <see cref="WorkloadIdentity.Method"/>; the broker stores it in <see cref="Lease.AgentFacts"/>.</summary>
    public const string MethodFact = "method";

    /// <summary>The identity a lease was issued to, or false when its facts lack the trust domain or the method.</summary>
    public static bool TryIdentityOf(Lease lease, [NotNullWhen(true)] out WorkloadIdentity? identity)
    {
        ArgumentNullException.ThrowIfNull(lease);
        identity = null;
        if (!lease.AgentFacts.TryGetValue(TrustDomainFact, out var trustDomain) || trustDomain.Length == 0 ||
            !lease.AgentFacts.TryGetValue(MethodFact, out var method) || method.Length == 0)
        {
            return false;
        }

        identity = new WorkloadIdentity
        {
            Id = lease.AgentId,
            TrustDomain = trustDomain,
            Method = method,
            Facts = lease.AgentFacts,
            EvidenceFingerprint = lease.CredentialFingerprint,
        };
        return true;
    }

    /// <summary>
    /// The request the lease answers: the granted action, target, tools and resources, its issuer kind, and its
    /// whole lifetime (<c>ExpiresAt - IssuedAt</c>) as the requested TTL. Purpose and context are not kept on a
    /// lease; pass them if the broker stored them, or rules that require them will no longer match.
    /// </summary>
    public static CredentialRequest RequestOf(Lease lease, string purpose = "", IReadOnlyDictionary<string, string>? context = null)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var intent = new TaskIntent(lease.Scope.Action, purpose, lease.Scope.Tools, lease.Scope.Resources,
            context ?? new Dictionary<string, string>());
        return new CredentialRequest(lease.TaskId, intent, lease.IssuerKind, lease.Scope.Audience, lease.ExpiresAt - lease.IssuedAt);
    }

    /// <summary>
    /// Decides the lease's request against <paramref name="engine"/>. Still granted means: Allow (or NeedsApproval
    /// by a rule the lease was already issued under — its approval was given), with every granted tool and resource,
    /// the same kind and target, and a TTL no shorter than the lease's lifetime.
    /// </summary>
    /// <exception cref="ArgumentException">The lease's facts lack <see cref="TrustDomainFact"/> or <see cref="MethodFact"/>.</exception>
    public static LeaseVerdict Evaluate(IPolicyEngine engine, Lease lease, string purpose = "", IReadOnlyDictionary<string, string>? context = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        if (!TryIdentityOf(lease, out var identity))
        {
            throw new ArgumentException($"Lease {lease.LeaseId} lacks the agent facts '{TrustDomainFact}' and '{MethodFact}' needed to re-evaluate it.", nameof(lease));
        }

        var request = RequestOf(lease, purpose, context);
        var decision = engine.Decide(identity, request);
        var problem = WhatIsNoLongerGranted(lease, request, decision);
        return new LeaseVerdict(problem is null, decision, problem ?? $"still granted: {decision.Reason}");
    }

    // Null when still granted, else what is no longer granted.
    private static string? WhatIsNoLongerGranted(Lease lease, CredentialRequest request, PolicyDecision decision)
    {
        if (decision.Effect == DecisionEffect.Deny || decision.Grant is not { } grant)
        {
            return $"no longer granted: {decision.Reason}";
        }

        if (decision.Effect == DecisionEffect.NeedsApproval && !decision.RuleIds.Any(lease.RuleIds.Contains))
        {
            return $"now needs approval: {decision.Reason}";
        }

        if (grant.Scope.Tools.Count != lease.Scope.Tools.Distinct(StringComparer.Ordinal).Count() ||
            grant.Scope.Resources.Count != lease.Scope.Resources.Distinct(StringComparer.Ordinal).Count())
        {
            return $"no longer granted in full: {decision.Reason}";
        }

        if (grant.CredentialKind != lease.IssuerKind || grant.Scope.Audience != lease.Scope.Audience)
        {
            return "no longer granted: the credential kind or target changed";
        }

        return grant.Ttl < request.RequestedTtl
            ? $"no longer granted for its lifetime: the policy now allows at most {grant.Ttl.TotalSeconds:0}s ({decision.Reason})"
            : null;
    }
}
