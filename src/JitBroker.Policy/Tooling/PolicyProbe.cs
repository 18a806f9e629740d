using JitBroker.Core;

namespace JitBroker.Policy;

/// <summary>
/// A request written by hand — in a policy test case or on the <c>jitctl policy explain</c> command line — and
/// the identity it comes from, with the defaults an attestor would supply: for <c>spiffe://td/…</c> agents the
/// trust domain <c>td</c> and method <c>jwt-svid</c>; for <c>&lt;issuer&gt;#&lt;subject&gt;</c> agents (OIDC) the
/// trust domain <c>&lt;issuer&gt;</c> and method <c>oidc</c>. Facts are exactly those given.
/// </summary>
public sealed record PolicyProbe
{
    /// <summary>Agent id: a SPIFFE ID or <c>issuer#subject</c>.</summary>
    public required string Agent { get; init; }

    public string? TrustDomain { get; init; }

    public string? Method { get; init; }

    public IReadOnlyDictionary<string, string> Facts { get; init; } = new Dictionary<string, string>();

    public required string Action { get; init; }

    public required string Target { get; init; }

    public string Kind { get; init; } = "jwt";

    public IReadOnlyList<string> Tools { get; init; } = [];

    public IReadOnlyList<string> Resources { get; init; } = [];

    public string Purpose { get; init; } = string.Empty;

    public IReadOnlyDictionary<string, string> Context { get; init; } = new Dictionary<string, string>();

    public TimeSpan? Ttl { get; init; }

    public string TaskId { get; init; } = "policy-test";

    /// <summary>The instant to decide at; null means the policy's clock (now).</summary>
    public DateTimeOffset? At { get; init; }

    /// <summary>The identity, with defaults filled in. Throws <see cref="ArgumentException"/> when they cannot be.</summary>
    public WorkloadIdentity ToIdentity() => IdentityOf(Agent, TrustDomain, Method, Facts);

    /// <summary>
    /// An identity the way an attestor would report it: trust domain and method default from the shape of
    /// <paramref name="id"/> (SPIFFE ID or <c>issuer#subject</c>); facts exactly as given.
    /// </summary>
    internal static WorkloadIdentity IdentityOf(string id, string? trustDomain, string? method, IReadOnlyDictionary<string, string> facts)
    {
        const string Spiffe = "spiffe://";
        var isSpiffe = id.StartsWith(Spiffe, StringComparison.Ordinal);
        var hash = id.IndexOf('#', StringComparison.Ordinal);
        return new WorkloadIdentity
        {
            Id = id,
            TrustDomain = trustDomain
                ?? (isSpiffe ? id[Spiffe.Length..].Split('/')[0]
                : hash > 0 ? id[..hash]
                : throw new ArgumentException($"agent '{id}' is neither spiffe://… nor issuer#subject; give its trust domain")),
            Method = method
                ?? (isSpiffe ? "jwt-svid" : hash > 0 ? "oidc" : throw new ArgumentException($"agent '{id}': give its attestation method")),
            Facts = facts,
            EvidenceFingerprint = "policy-probe",
        };
    }

    public CredentialRequest ToRequest() =>
        new(TaskId, new TaskIntent(Action, Purpose, Tools, Resources, Context), Kind, Target, Ttl);
}

/// <summary>A clock stopped at one instant: a policy test case decides at the time it names.</summary>
internal sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
