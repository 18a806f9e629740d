namespace JitBroker.Attestation;

/// <summary>
/// Configuration of <see cref="JwtSvidAttestor"/>. <see cref="Validate"/> is the single start-up check
/// (also usable by a dry-run <c>check</c> command); the attestor's constructor refuses options it reports.
/// </summary>
public sealed class JwtSvidOptions
{
    /// <summary>Where the host binds these options; every validation message names its key under this path.</summary>
    public const string SectionPath = "JitBroker:Attestation:JwtSvid";

    /// <summary>Largest <see cref="Leeway"/> accepted: beyond 5 minutes clock skew stops being skew.</summary>
    public static readonly TimeSpan MaxLeeway = TimeSpan.FromMinutes(5);

    /// <summary>Largest <see cref="MaxTokenLength"/> accepted.</summary>
    public const int MaxTokenLengthLimit = 64 * 1024;

    /// <summary>The broker's audience: a JWT-SVID's <c>aud</c> must contain exactly this string.</summary>
    public string Audience { get; set; } = "";

    /// <summary>Clock skew allowed on <c>exp</c>, <c>nbf</c>, <c>iat</c> and <see cref="MaxTokenAge"/>; 0 to 300 s.</summary>
    public TimeSpan Leeway { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A token issued (<c>iat</c>) longer ago than this is refused. A token without <c>iat</c> is refused
    /// when it is still valid for longer than this, since its age cannot be known.
    /// </summary>
    public TimeSpan MaxTokenAge { get; set; } = TimeSpan.FromMinutes(60);

    /// <summary>Tokens longer than this many characters are refused before any decoding.</summary>
    public int MaxTokenLength { get; set; } = 8192;

    /// <summary>Trust domain name → path of that trust domain's SPIFFE bundle (a JWK Set JSON file), reloaded when it changes.</summary>
    public Dictionary<string, string> TrustBundles { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Trust domain name → URL of that trust domain's SPIFFE bundle endpoint (web PKI, SPIFFE bundle §5.2.1).
    /// Fetched in the background and refreshed by <c>spiffe_refresh_hint</c>. A trust domain is configured
    /// either here or in <see cref="TrustBundles"/>, never in both.
    /// </summary>
    public Dictionary<string, string> TrustBundleUrls { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How bundles fetched from <see cref="TrustBundleUrls"/> are refreshed.</summary>
    public KeyRefreshOptions Refresh { get; set; } = new();

    /// <summary>Remembers verified tokens so a re-presented one is not verified again (on by default; see <see cref="VerifiedTokenCacheOptions"/>).</summary>
    public VerifiedTokenCacheOptions VerifiedTokenCache { get; set; } = new();

    /// <summary>Permits plain <c>http://</c> bundle URLs to non-loopback hosts. For labs only: such keys can be replaced in flight.</summary>
    public bool AllowInsecureHttp { get; set; }

    /// <summary>True when at least one trust domain has a JWT-SVID bundle, so the attestor should run.</summary>
    public bool IsConfigured() => (TrustBundles?.Count ?? 0) + (TrustBundleUrls?.Count ?? 0) > 0;

    /// <summary>
    /// Start-up validation: one message per problem; empty means the options are usable. With
    /// <paramref name="bundleProvidedLater"/> no bundle is required yet: start-up adds one it creates itself (the
    /// embedded profile's development trust domain, which a dry run does not create).
    /// </summary>
    public IEnumerable<string> Validate(bool bundleProvidedLater = false)
    {
        if (string.IsNullOrWhiteSpace(Audience))
        {
            yield return $"{SectionPath}:Audience must be set: JWT-SVIDs are only accepted when their 'aud' names this broker.";
        }

        if (Leeway < TimeSpan.Zero || Leeway > MaxLeeway)
        {
            yield return $"{SectionPath}:Leeway must lie between 0 and {MaxLeeway.TotalSeconds:0}s.";
        }

        if (MaxTokenAge <= TimeSpan.Zero || MaxTokenAge > TimeSpan.FromHours(24))
        {
            yield return $"{SectionPath}:MaxTokenAge must be positive and at most 24h.";
        }

        if (MaxTokenLength is < 256 or > MaxTokenLengthLimit)
        {
            yield return $"{SectionPath}:MaxTokenLength must lie between 256 and {MaxTokenLengthLimit}.";
        }

        if (!IsConfigured() && !bundleProvidedLater)
        {
            yield return $"{SectionPath}:TrustBundles or {SectionPath}:TrustBundleUrls must name at least one trust domain and its bundle.";
            yield break;
        }

        foreach (var problem in Refresh?.Validate($"{SectionPath}:Refresh") ?? [$"{SectionPath}:Refresh must not be null."])
        {
            yield return problem;
        }

        foreach (var problem in VerifiedTokenCache?.Validate($"{SectionPath}:VerifiedTokenCache") ?? [$"{SectionPath}:VerifiedTokenCache must not be null."])
        {
            yield return problem;
        }

        foreach (var (trustDomain, url) in TrustBundleUrls ?? [])
        {
            if (!SpiffeId.IsValidTrustDomain(trustDomain, out var error))
            {
                yield return $"{SectionPath}:TrustBundleUrls key '{trustDomain}' is not a valid trust domain name: {error}.";
            }
            else if (TrustBundles?.ContainsKey(trustDomain) == true)
            {
                yield return $"Trust domain '{trustDomain}' is configured in both {SectionPath}:TrustBundles and {SectionPath}:TrustBundleUrls; choose one.";
            }
            else if (KeySetHttp.Problem(url, AllowInsecureHttp, out _) is { } problem)
            {
                yield return $"{SectionPath}:TrustBundleUrls:{trustDomain} {problem}.";
            }
        }

        foreach (var (trustDomain, path) in TrustBundles ?? [])
        {
            if (!SpiffeId.IsValidTrustDomain(trustDomain, out var error))
            {
                yield return $"{SectionPath}:TrustBundles key '{trustDomain}' is not a valid trust domain name: {error}.";
                continue;
            }

            if (string.IsNullOrWhiteSpace(path))
            {
                yield return $"{SectionPath}:TrustBundles:{trustDomain} must name a bundle file.";
                continue;
            }

            if (!File.Exists(path))
            {
                yield return $"{SectionPath}:TrustBundles:{trustDomain}: bundle file '{path}' does not exist.";
                continue;
            }

            var problem = TrustBundleParser.TryLoadFile(trustDomain, path, out _);
            if (problem is not null)
            {
                yield return $"{SectionPath}:TrustBundles:{trustDomain}: bundle file '{path}' is not a valid SPIFFE bundle: {problem}.";
            }
        }
    }
}
