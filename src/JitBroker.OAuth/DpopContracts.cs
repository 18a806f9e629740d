namespace JitBroker.OAuth;

/// <summary>
/// Where DPoP proof identifiers are remembered until they could no longer pass the freshness check (RFC 9449 §11.1).
/// Shared across replicas in production, so a proof replayed at another replica is caught too.
/// </summary>
public interface IDpopReplayStore
{
    /// <summary>Records <paramref name="key"/> until <paramref name="keepUntil"/>; true when this is its first use,
    /// false when it was recorded before. Atomic: of two concurrent calls with one key, one returns false.</summary>
    ValueTask<bool> TryRecordAsync(string key, DateTimeOffset keepUntil, CancellationToken cancellationToken = default);
}

/// <summary>Limits of <see cref="DpopProofValidator"/>.</summary>
public sealed class DpopValidationOptions
{
    /// <summary>How long after its iat a proof is accepted (RFC 9449 §11.1: a short window).</summary>
    public TimeSpan MaxProofAge { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Tolerated clock difference with the client, in either direction.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest proof read at all, in characters; checked before anything is decoded.</summary>
    public int MaxProofLength { get; set; } = 8192;
}

/// <summary>The HTTP request a proof came with: its method, its target URI (the query is ignored), and the access token
/// it presents when it presents one (then the proof must carry a matching ath).</summary>
public sealed record DpopRequest(string Method, Uri TargetUri, string? AccessToken = null);

/// <summary>A proof that passed every check: the RFC 7638 thumbprint of its key (the cnf.jkt to bind or compare), its
/// jti, its iat and its alg.</summary>
public sealed record DpopProof(string KeyThumbprint, string Jti, DateTimeOffset IssuedAt, string Algorithm);
