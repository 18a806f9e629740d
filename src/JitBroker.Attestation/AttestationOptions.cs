namespace JitBroker.Attestation;

/// <summary>
/// Configuration of every attestor, bound from <c>JitBroker:Attestation</c>: an attestor runs when its
/// section configures at least one trust domain or issuer. See docs/attestation.md.
/// </summary>
public sealed class AttestationOptions
{
    /// <summary>Where the host binds these options; every validation message names its key under this path.</summary>
    public const string SectionPath = "JitBroker:Attestation";

    /// <summary>JWT-SVIDs (<c>JitBroker:Attestation:JwtSvid</c>).</summary>
    public JwtSvidOptions JwtSvid { get; set; } = new();

    /// <summary>OIDC workload tokens (<c>JitBroker:Attestation:Oidc</c>).</summary>
    public OidcOptions Oidc { get; set; } = new();

    /// <summary>X.509-SVIDs over mutual TLS (<c>JitBroker:Attestation:X509Svid</c>).</summary>
    public X509SvidOptions X509Svid { get; set; } = new();

    /// <summary>
    /// Start-up validation of every configured attestor; at least one must be configured. With
    /// <paramref name="jwtSvidBundleProvidedLater"/> the JWT-SVID attestor counts as configured before its bundle exists
    /// (see <see cref="JwtSvidOptions.Validate"/>).
    /// </summary>
    public IEnumerable<string> Validate(bool jwtSvidBundleProvidedLater = false)
    {
        var any = false;
        if (JwtSvid?.IsConfigured() == true || (jwtSvidBundleProvidedLater && JwtSvid is not null))
        {
            any = true;
            foreach (var problem in JwtSvid.Validate(jwtSvidBundleProvidedLater))
            {
                yield return problem;
            }
        }

        if (Oidc?.IsConfigured() == true)
        {
            any = true;
            foreach (var problem in Oidc.Validate())
            {
                yield return problem;
            }
        }

        if (X509Svid?.IsConfigured() == true)
        {
            any = true;
            foreach (var problem in X509Svid.Validate())
            {
                yield return problem;
            }
        }

        if (!any)
        {
            yield return $"{SectionPath}: configure at least one of JwtSvid:TrustBundles, JwtSvid:TrustBundleUrls, Oidc:Issuers, X509Svid:TrustBundles; otherwise no workload can prove its identity.";
        }
    }
}
