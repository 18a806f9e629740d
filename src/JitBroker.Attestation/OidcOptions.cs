namespace JitBroker.Attestation;

/// <summary>
/// Configuration of <see cref="OidcAttestor"/>: the OIDC issuers whose workload tokens (Kubernetes projected
/// service account tokens, CI job tokens) this broker accepts. <see cref="Validate"/> is the start-up check.
/// </summary>
public sealed class OidcOptions
{
    /// <summary>Where the host binds these options; every validation message names its key under this path.</summary>
    public const string SectionPath = "JitBroker:Attestation:Oidc";

    /// <summary>The accepted issuers; each token is checked against the one its <c>iss</c> names exactly.</summary>
    public List<OidcIssuerOptions> Issuers { get; set; } = [];

    /// <summary>Clock skew allowed on <c>exp</c>, <c>nbf</c>, <c>iat</c> and <see cref="MaxTokenAge"/>; 0 to 300 s.</summary>
    public TimeSpan Leeway { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A token issued (<c>iat</c>) longer ago than this is refused; without <c>iat</c>, one still valid for
    /// longer than this. Kubernetes projected tokens default to one hour (the kubelet renews them at 80%).
    /// </summary>
    public TimeSpan MaxTokenAge { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Tokens longer than this many characters are refused before any decoding.</summary>
    public int MaxTokenLength { get; set; } = 8192;

    /// <summary>How discovery documents and JWKS fetched over HTTP are refreshed.</summary>
    public KeyRefreshOptions Refresh { get; set; } = new();

    /// <summary>Remembers verified tokens so a re-presented one is not verified again (on by default; see <see cref="VerifiedTokenCacheOptions"/>).</summary>
    public VerifiedTokenCacheOptions VerifiedTokenCache { get; set; } = new();

    /// <summary>True when at least one issuer is configured, so the attestor should run.</summary>
    public bool IsConfigured() => Issuers is { Count: > 0 };

    /// <summary>Start-up validation: one message per problem; empty means the options are usable.</summary>
    public IEnumerable<string> Validate()
    {
        if (!IsConfigured())
        {
            yield return $"{SectionPath}:Issuers must name at least one issuer.";
            yield break;
        }

        if (Leeway < TimeSpan.Zero || Leeway > JwtSvidOptions.MaxLeeway)
        {
            yield return $"{SectionPath}:Leeway must lie between 0 and {JwtSvidOptions.MaxLeeway.TotalSeconds:0}s.";
        }

        if (MaxTokenAge <= TimeSpan.Zero || MaxTokenAge > TimeSpan.FromHours(48))
        {
            yield return $"{SectionPath}:MaxTokenAge must be positive and at most 48h.";
        }

        if (MaxTokenLength is < 256 or > JwtSvidOptions.MaxTokenLengthLimit)
        {
            yield return $"{SectionPath}:MaxTokenLength must lie between 256 and {JwtSvidOptions.MaxTokenLengthLimit}.";
        }

        foreach (var problem in Refresh?.Validate($"{SectionPath}:Refresh") ?? [$"{SectionPath}:Refresh must not be null."])
        {
            yield return problem;
        }

        foreach (var problem in VerifiedTokenCache?.Validate($"{SectionPath}:VerifiedTokenCache") ?? [$"{SectionPath}:VerifiedTokenCache must not be null."])
        {
            yield return problem;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Issuers.Count; i++)
        {
            var issuer = Issuers[i];
            if (issuer is null)
            {
                yield return $"{SectionPath}:Issuers:{i} is empty.";
                continue;
            }

            if (!string.IsNullOrEmpty(issuer.Issuer) && !seen.Add(issuer.Issuer))
            {
                yield return $"{SectionPath}:Issuers:{i}: issuer '{issuer.Issuer}' is configured twice.";
            }

            foreach (var problem in issuer.Validate($"{SectionPath}:Issuers:{i}"))
            {
                yield return problem;
            }
        }
    }
}

/// <summary>One accepted OIDC issuer.</summary>
public sealed class OidcIssuerOptions
{
    /// <summary>The exact <c>iss</c> value (no normalisation: a trailing slash matters), for example <c>https://kubernetes.default.svc.cluster.local</c>.</summary>
    public string Issuer { get; set; } = "";

    /// <summary>The audience tokens must be minted for (the projected volume's <c>audience</c>, the CI job's requested audience).</summary>
    public string Audience { get; set; } = "";

    /// <summary>
    /// Where the discovery document is fetched; default <see cref="Issuer"/> + <c>/.well-known/openid-configuration</c>.
    /// Set it when the issuer is reachable under another address (in-cluster API server). Its <c>issuer</c>
    /// must still equal <see cref="Issuer"/> exactly.
    /// </summary>
    public string? DiscoveryUrl { get; set; }

    /// <summary>Fetch the JWKS from this URL directly, skipping discovery.</summary>
    public string? JwksUrl { get; set; }

    /// <summary>Read the JWKS from this file (reloaded when it changes) instead of fetching it: for air-gapped clusters (<c>kubectl get --raw /openid/v1/jwks</c>).</summary>
    public string? JwksPath { get; set; }

    /// <summary>
    /// Patterns the token's <c>sub</c> must match (any one); empty accepts every subject of the issuer.
    /// Globs in the broker's one pattern language (<see cref="JitBroker.Core.GlobPattern"/>, docs/policy.md "Globs"):
    /// <c>*</c> never crosses <c>:</c> or <c>/</c>, <c>**</c> does; the whole subject must match.
    /// </summary>
    public List<string> SubjectPatterns { get; set; } = [];

    /// <summary>Accepted <c>alg</c> values, a subset of RS/ES/PS 256/384/512; empty means all nine.</summary>
    public List<string> AllowedAlgorithms { get; set; } = [];

    /// <summary>Extra JOSE headers to tolerate (and ignore); only <c>x5t</c> and <c>x5t#S256</c> may be named (GitHub Actions tokens carry <c>x5t</c>).</summary>
    public List<string> ToleratedHeaders { get; set; } = [];

    /// <summary>PEM file of CA certificates to trust (instead of the system roots) for discovery and JWKS fetches, for example the cluster CA.</summary>
    public string? CaCertificatesPath { get; set; }

    /// <summary>File holding a bearer token to send with discovery and JWKS fetches (the Kubernetes API server requires one); re-read on every fetch, sent only to the configured host.</summary>
    public string? BearerTokenPath { get; set; }

    /// <summary>Permits plain <c>http://</c> discovery/JWKS URLs to non-loopback hosts. For labs only.</summary>
    public bool AllowInsecureHttp { get; set; }

    /// <summary>The discovery URL in use: <see cref="DiscoveryUrl"/> or the one derived from <see cref="Issuer"/> (OIDC Discovery §4).</summary>
    public string EffectiveDiscoveryUrl() =>
        !string.IsNullOrWhiteSpace(DiscoveryUrl) ? DiscoveryUrl : Issuer.TrimEnd('/') + "/.well-known/openid-configuration";

    /// <summary>Start-up validation of this issuer; <paramref name="prefix"/> names it in messages.</summary>
    public IEnumerable<string> Validate(string prefix)
    {
        if (string.IsNullOrWhiteSpace(Issuer) || Issuer.Length > 2048 || Issuer.Trim() != Issuer)
        {
            yield return $"{prefix}:Issuer must be the issuer's exact 'iss' value.";
            yield break;
        }

        if (string.IsNullOrWhiteSpace(Audience))
        {
            yield return $"{prefix}:Audience must be set: tokens are only accepted when their 'aud' names this broker.";
        }

        var modes = (string.IsNullOrWhiteSpace(JwksUrl) ? 0 : 1) + (string.IsNullOrWhiteSpace(JwksPath) ? 0 : 1);
        if (modes > 1 || (modes == 1 && !string.IsNullOrWhiteSpace(DiscoveryUrl)))
        {
            yield return $"{prefix}: set at most one of DiscoveryUrl, JwksUrl and JwksPath.";
        }
        else if (!string.IsNullOrWhiteSpace(JwksPath))
        {
            if (!File.Exists(JwksPath))
            {
                yield return $"{prefix}:JwksPath: file '{JwksPath}' does not exist.";
            }
            else if (TrustBundleParser.TryLoadFile(Issuer, JwksPath, KeySetProfile.OidcJwks, out _) is { } problem)
            {
                yield return $"{prefix}:JwksPath: file '{JwksPath}' is not a valid JWK Set: {problem}.";
            }
        }
        else
        {
            var (name, url) = string.IsNullOrWhiteSpace(JwksUrl) ? ("DiscoveryUrl (derived from Issuer unless set)", EffectiveDiscoveryUrl()) : ("JwksUrl", JwksUrl);
            if (KeySetHttp.Problem(url, AllowInsecureHttp, out _) is { } problem)
            {
                yield return $"{prefix}:{name} {problem}.";
            }
        }

        foreach (var (name, path) in new[] { ("CaCertificatesPath", CaCertificatesPath), ("BearerTokenPath", BearerTokenPath) })
        {
            if (!string.IsNullOrWhiteSpace(path) && !File.Exists(path))
            {
                yield return $"{prefix}:{name}: file '{path}' does not exist.";
            }
        }

        if (!string.IsNullOrWhiteSpace(CaCertificatesPath) && File.Exists(CaCertificatesPath) && !HoldsCertificates(CaCertificatesPath))
        {
            yield return $"{prefix}:CaCertificatesPath: file '{CaCertificatesPath}' holds no PEM certificate.";
        }

        foreach (var alg in AllowedAlgorithms ?? [])
        {
            if (!JwsAlgorithm.IsSupported(alg))
            {
                yield return $"{prefix}:AllowedAlgorithms: '{alg}' is not one of RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512.";
            }
        }

        foreach (var header in ToleratedHeaders ?? [])
        {
            if (!HeaderStep.TolerableHeaders.Contains(header))
            {
                yield return $"{prefix}:ToleratedHeaders: '{header}' cannot be tolerated; only x5t and x5t#S256 can (headers that supply keys or change processing never can).";
            }
        }

        foreach (var pattern in SubjectPatterns ?? [])
        {
            if (!JitBroker.Core.GlobPattern.TryParse(pattern, out _, out var problem))
            {
                yield return $"{prefix}:SubjectPatterns: {problem}.";
            }
        }
    }

    private static bool HoldsCertificates(string path)
    {
        try
        {
            var certificates = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
            certificates.ImportFromPemFile(path);
            return certificates.Count > 0;
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
