namespace JitBroker.Attestation;

/// <summary>
/// The JWT-SVID keys of one trust domain, as of one load of its bundle file. Immutable: a reload builds a
/// new instance and swaps it in whole, so a request sees either the old key set or the new one.
/// </summary>
internal sealed class TrustBundle
{
    public TrustBundle(string trustDomain, IReadOnlyDictionary<string, BundleKey> keys, IReadOnlyList<string> skipped, long? sequence)
    {
        TrustDomain = trustDomain;
        Keys = keys;
        Skipped = skipped;
        Sequence = sequence;
    }

    public string TrustDomain { get; }

    /// <summary>Usable JWT-SVID keys by <c>kid</c>. Empty means every SVID of the trust domain is invalid.</summary>
    public IReadOnlyDictionary<string, BundleKey> Keys { get; }

    /// <summary>Why JWT-SVID-looking entries were ignored (for a start-up/reload warning); never key material.</summary>
    public IReadOnlyList<string> Skipped { get; }

    /// <summary><c>spiffe_sequence</c>, when the bundle carries one.</summary>
    public long? Sequence { get; }

    public bool IsEmpty => Keys.Count == 0;
}

/// <summary>A bundle file that is not a SPIFFE bundle at all; the message names the problem, never key material.</summary>
internal sealed class BundleFormatException(string message) : Exception(message);
