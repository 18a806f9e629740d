using System.Collections;
using System.Diagnostics.CodeAnalysis;

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

    /// <summary>
    /// The agent's facts plus its <see cref="MethodKey"/> and <see cref="TrustDomainKey"/> (which replace facts of those
    /// names), in the order a dictionary built by copying and then setting those two would list them. A view over the
    /// identity's facts, not a copy: one small object per lease instead of a dictionary (identities are immutable once
    /// attested, and JWT-SVID/OIDC ones may be shared from the verified-token cache, which is why they were never changed).
    /// </summary>
    public static IReadOnlyDictionary<string, string> From(WorkloadIdentity agent) => new IssuedFacts(agent.Facts, agent.Method, agent.TrustDomain);

    /// <summary>Writes the names of <paramref name="facts"/> into <paramref name="into"/> (at least Count long), without the view's iterator for a lease's own facts; returns how many.</summary>
    public static int CopyNames(IReadOnlyDictionary<string, string> facts, Span<string> into)
    {
        var n = 0;
        switch (facts)
        {
            case IssuedFacts issued:
                return issued.CopyNames(into);
            case FixedFactDictionary fixedFacts:
                return fixedFacts.CopyNames(into);
            case Dictionary<string, string> dictionary:
                foreach (var name in dictionary.Keys)
                {
                    into[n++] = name;
                }

                return n;
            default:
                foreach (var name in facts.Keys)
                {
                    into[n++] = name;
                }

                return n;
        }
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

    /// <summary>True when <paramref name="test"/> holds for any name or value of <paramref name="facts"/>; walks a lease's own facts (<see cref="From"/>) without the view's iterator.</summary>
    public static bool AnyText(IReadOnlyDictionary<string, string> facts, Func<string, bool> test) => facts switch
    {
        // The identity's own method and trust_domain facts, if any, are not part of the view: their values are not looked at.
        IssuedFacts issued => test(MethodKey) || test(issued.Method) || test(TrustDomainKey) || test(issued.TrustDomain)
            || AnyText(issued.Facts, test, skipIssuedNames: true),
        _ => AnyText(facts, test, skipIssuedNames: false),
    };

    private static bool AnyText(IReadOnlyDictionary<string, string> facts, Func<string, bool> test, bool skipIssuedNames)
    {
        // Walked by concrete type where one is known: foreach over the interface boxes an enumerator.
        if (facts is FixedFactDictionary fixedFacts)
        {
            for (var i = 0; i < fixedFacts.Count; i++)
            {
                if (Matches(fixedFacts.At(i), test, skipIssuedNames))
                {
                    return true;
                }
            }

            return false;
        }

        if (facts is Dictionary<string, string> dictionary)
        {
            foreach (var fact in dictionary)
            {
                if (Matches(fact, test, skipIssuedNames))
                {
                    return true;
                }
            }

            return false;
        }

        foreach (var fact in facts)
        {
            if (Matches(fact, test, skipIssuedNames))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Matches(KeyValuePair<string, string> fact, Func<string, bool> test, bool skipIssuedNames) =>
        !(skipIssuedNames && fact.Key is MethodKey or TrustDomainKey) && (test(fact.Key) || test(fact.Value));

    private sealed class IssuedFacts(IReadOnlyDictionary<string, string> facts, string method, string trustDomain) : IReadOnlyDictionary<string, string>
    {
        public IReadOnlyDictionary<string, string> Facts => facts;

        public string Method => method;

        public string TrustDomain => trustDomain;

        public int Count => facts.Count + (facts.ContainsKey(MethodKey) ? 0 : 1) + (facts.ContainsKey(TrustDomainKey) ? 0 : 1);

        public IEnumerable<string> Keys => this.Select(static p => p.Key);

        public IEnumerable<string> Values => this.Select(static p => p.Value);

        public string this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"No fact '{key}'.");

        public bool ContainsKey(string key) => key is MethodKey or TrustDomainKey || facts.ContainsKey(key);

        public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
        {
            switch (key)
            {
                case MethodKey:
                    value = method;
                    return true;
                case TrustDomainKey:
                    value = trustDomain;
                    return true;
                default:
                    return facts.TryGetValue(key, out value);
            }
        }

        public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
        {
            var sawMethod = false;
            var sawTrustDomain = false;
            foreach (var (name, value) in facts)
            {
                switch (name)
                {
                    case MethodKey:
                        sawMethod = true;
                        yield return new(name, method);
                        break;
                    case TrustDomainKey:
                        sawTrustDomain = true;
                        yield return new(name, trustDomain);
                        break;
                    default:
                        yield return new(name, value);
                        break;
                }
            }

            if (!sawMethod)
            {
                yield return new(MethodKey, method);
            }

            if (!sawTrustDomain)
            {
                yield return new(TrustDomainKey, trustDomain);
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public int CopyNames(Span<string> into)
        {
            var n = AgentFacts.CopyNames(facts, into);
            var sawMethod = into[..n].Contains(MethodKey);
            var sawTrustDomain = into[..n].Contains(TrustDomainKey);
            if (!sawMethod)
            {
                into[n++] = MethodKey;
            }

            if (!sawTrustDomain)
            {
                into[n++] = TrustDomainKey;
            }

            return n;
        }
    }
}
