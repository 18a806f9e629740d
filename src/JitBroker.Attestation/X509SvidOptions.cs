using System.Security.Cryptography.X509Certificates;

namespace JitBroker.Attestation;

/// <summary>Configuration of <see cref="X509SvidAttestor"/> (X.509-SVIDs presented as TLS client certificates).</summary>
public sealed class X509SvidOptions
{
    /// <summary>Where the host binds these options; every validation message names its key under this path.</summary>
    public const string SectionPath = "JitBroker:Attestation:X509Svid";

    /// <summary>
    /// Trust domain name → file of that trust domain's X.509 authorities: PEM CA certificates, or a SPIFFE
    /// bundle (JSON, its <c>use</c> = <c>x509-svid</c> entries' <c>x5c</c>). Reloaded when the file changes.
    /// </summary>
    public Dictionary<string, string> TrustBundles { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Clock skew allowed on the leaf's validity period; 0 to 300 s.</summary>
    public TimeSpan Leeway { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Revocation checking of the chain. SPIFFE deployments rotate short-lived SVIDs instead of publishing CRLs, hence <see cref="X509RevocationMode.NoCheck"/>.</summary>
    public X509RevocationMode RevocationMode { get; set; } = X509RevocationMode.NoCheck;

    /// <summary>True when at least one trust domain has an X.509 bundle, so the attestor should run.</summary>
    public bool IsConfigured() => TrustBundles is { Count: > 0 };

    /// <summary>Start-up validation: one message per problem; empty means the options are usable.</summary>
    public IEnumerable<string> Validate()
    {
        if (!IsConfigured())
        {
            yield return $"{SectionPath}:TrustBundles must name at least one trust domain and its X.509 bundle file.";
            yield break;
        }

        if (Leeway < TimeSpan.Zero || Leeway > JwtSvidOptions.MaxLeeway)
        {
            yield return $"{SectionPath}:Leeway must lie between 0 and {JwtSvidOptions.MaxLeeway.TotalSeconds:0}s.";
        }

        if (!Enum.IsDefined(RevocationMode))
        {
            yield return $"{SectionPath}:RevocationMode must be NoCheck, Online or Offline.";
        }

        foreach (var (trustDomain, path) in TrustBundles)
        {
            if (!SpiffeId.IsValidTrustDomain(trustDomain, out var error))
            {
                yield return $"{SectionPath}:TrustBundles key '{trustDomain}' is not a valid trust domain name: {error}.";
            }
            else if (string.IsNullOrWhiteSpace(path) || !File.Exists(path))
            {
                yield return $"{SectionPath}:TrustBundles:{trustDomain}: bundle file '{path}' does not exist.";
            }
            else if (X509Authorities.Load(path).Problem is { } problem)
            {
                yield return $"{SectionPath}:TrustBundles:{trustDomain}: bundle file '{path}' is not usable: {problem}.";
            }
        }
    }
}
