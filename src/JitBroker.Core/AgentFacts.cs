namespace JitBroker.Core;

/// <summary>
/// The identity facts a lease keeps so policy can be re-evaluated after a reload, and how to rebuild a
/// <see cref="WorkloadIdentity"/> from them. Facts only: never evidence, never a token.
/// </summary>
public static class AgentFacts
{
    /// <summary>Fact names the re-evaluation after a policy reload (PolicyReevaluator) rebuilds the identity from.</summary>
    public const string MethodKey = "method";
    public const string TrustDomainKey = "trust_domain";

    public static IReadOnlyDictionary<string, string> From(WorkloadIdentity agent)
    {
        // Sized for the two facts added below too: copying at the source's size and then adding grew it once per lease.
        var facts = new Dictionary<string, string>(agent.Facts.Count + 2, StringComparer.Ordinal);
        if (agent.Facts is Dictionary<string, string> source)
        {
            // X.509-SVID identities and ones rebuilt from a lease carry a Dictionary: its struct enumerator, not a boxed one.
            // JWT-SVID and OIDC identities carry a read-only wrapper (they may be shared from the verified-token cache)
            // and take the general path below.
            foreach (var (name, value) in source)
            {
                facts.Add(name, value);
            }
        }
        else
        {
            foreach (var (name, value) in agent.Facts)
            {
                facts.Add(name, value);
            }
        }

        facts[MethodKey] = agent.Method;
        facts[TrustDomainKey] = agent.TrustDomain;
        return facts;
    }

    /// <summary>The identity as policy saw it when the lease was issued (for re-evaluation, not for authentication).</summary>
    public static WorkloadIdentity Rebuild(Lease lease)
    {
        var facts = lease.AgentFacts;
        return new WorkloadIdentity
        {
            Id = lease.AgentId,
            Method = facts.GetValueOrDefault(MethodKey, "unknown"),
            TrustDomain = facts.GetValueOrDefault(TrustDomainKey, "unknown"),
            Facts = facts,
            EvidenceFingerprint = "lease:" + lease.LeaseId,
        };
    }
}
