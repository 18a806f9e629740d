namespace JitBroker.Server.OAuth;

/// <summary>
/// <c>JitBroker:OAuth</c>: the OAuth 2 front door (docs/oauth.md). Its URLs all derive from <c>JitBroker:Issuer:Issuer</c>,
/// so the metadata's <c>issuer</c> is the <c>iss</c> of every token minted.
/// </summary>
public sealed class OAuthSettings
{
    /// <summary>Serve the metadata, token, introspection and revocation endpoints. On by default.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The public https URL of the mTLS listener (scheme, host, port), published as RFC 8705 §5
    /// <c>mtls_endpoint_aliases</c>: certificate-bound tokens are requested there. Unset: no aliases are published.
    /// </summary>
    public string? MtlsBaseUrl { get; set; }

    /// <summary>The polling interval a client waiting for step-up approval is told (RFC 8628 §3.5 <c>interval</c>).</summary>
    public TimeSpan ApprovalPollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How old a DPoP proof may be (its <c>iat</c>), RFC 9449 §11.1.</summary>
    public TimeSpan DpopMaxProofAge { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Clock skew allowed on a DPoP proof's <c>iat</c>, set explicitly.</summary>
    public TimeSpan DpopClockSkew { get; set; } = TimeSpan.FromSeconds(5);

    public IEnumerable<string> Validate()
    {
        if (MtlsBaseUrl is { } mtls && (!Uri.TryCreate(mtls, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps
            || uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0))
        {
            yield return "OAuth:MtlsBaseUrl must be an https URL with no path, query or fragment (the mTLS listener's public address).";
        }

        if (ApprovalPollInterval < TimeSpan.FromSeconds(1) || ApprovalPollInterval > TimeSpan.FromMinutes(1))
        {
            yield return "OAuth:ApprovalPollInterval must be between 1 second and 1 minute.";
        }

        if (DpopMaxProofAge < TimeSpan.FromSeconds(5) || DpopMaxProofAge > TimeSpan.FromMinutes(10))
        {
            yield return "OAuth:DpopMaxProofAge must be between 5 seconds and 10 minutes.";
        }

        if (DpopClockSkew < TimeSpan.Zero || DpopClockSkew > TimeSpan.FromMinutes(1))
        {
            yield return "OAuth:DpopClockSkew must be between 0 and 1 minute.";
        }
    }
}
