namespace JitBroker.Attestation;

/// <summary>
/// The verification keys of one trust domain (JWT-SVID) or one OIDC issuer, as a series of immutable
/// snapshots. Which source verifies a token is chosen by configuration from the token's trust domain or
/// issuer, never by anything else the token says.
/// </summary>
internal interface IKeySource : IDisposable
{
    /// <summary>Whose keys these are, for messages: <c>trust domain 'x'</c> or <c>issuer 'y'</c>.</summary>
    string Owner { get; }

    /// <summary>The current keys; null when they have never been loaded (every token of the owner is then refused).</summary>
    TrustBundle? Current { get; }

    /// <summary>
    /// Called when a token names a key the current snapshot lacks (or there is none yet). May refresh the
    /// keys, rate-limited per source, waiting a bounded time; returns the snapshot to use afterwards.
    /// </summary>
    ValueTask<TrustBundle?> RefreshForUnknownKeyAsync(CancellationToken cancellationToken = default);
}
