namespace JitBroker.Issuance;

/// <summary>
/// The one source of task-JWT signing keys (exactly one provider is configured). Key material never
/// leaves the provider: callers get <see cref="SigningKey"/> objects that sign and verify.
/// The provider owns the keys; callers must not dispose them.
/// </summary>
public interface ISigningKeyProvider
{
    /// <summary>The key new tokens are signed with; <see cref="SigningKey.CanSign"/> is always true.</summary>
    SigningKey Current { get; }

    /// <summary>
    /// Every key a token may still be verified with: <see cref="Current"/> first, then previous keys kept
    /// during rotation. Each <see cref="SigningKey.KeyId"/> appears once. Published as the JWKS.
    /// </summary>
    IReadOnlyList<SigningKey> VerificationKeys { get; }
}

/// <summary>A provider over keys already in memory (tests, embedded hosts). Owns and disposes them.</summary>
public sealed class StaticSigningKeyProvider : ISigningKeyProvider, IDisposable
{
    public StaticSigningKeyProvider(SigningKey current, params IEnumerable<SigningKey> previous)
    {
        if (!current.CanSign)
        {
            throw new ArgumentException("The current key must be able to sign.", nameof(current));
        }

        Current = current;
        VerificationKeys = [.. new[] { current }.Concat(previous).DistinctBy(k => k.KeyId, StringComparer.Ordinal)];
    }

    public SigningKey Current { get; }

    public IReadOnlyList<SigningKey> VerificationKeys { get; }

    public void Dispose()
    {
        foreach (var key in VerificationKeys)
        {
            key.Dispose();
        }
    }
}
