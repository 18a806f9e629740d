namespace JitBroker.Issuance;

/// <summary>Settings of the built-in task-JWT issuer (configuration section <c>JitBroker:Issuer</c>).</summary>
public sealed class JwtIssuerOptions
{
    /// <summary>Where the host binds these options; every validation message names its key under this path.</summary>
    public const string SectionPath = "JitBroker:Issuer";

    /// <summary>
    /// The <c>iss</c> claim: an https URL without query or fragment (RFC 9068 §2.2, RFC 8414 §2), for
    /// example <c>https://jitbroker.local</c>. Plain http is accepted only for a loopback host (development).
    /// </summary>
    public string Issuer { get; set; } = "";

    /// <summary>The JOSE header <c>typ</c> (RFC 9068 §2.1 recommends <c>at+jwt</c>); checked on verification.</summary>
    public string TokenType { get; set; } = "at+jwt";

    /// <summary>Problems with these options, one sentence each; empty when they are usable.</summary>
    public IEnumerable<string> Validate()
    {
        if (!Uri.TryCreate(Issuer, UriKind.Absolute, out var issuer))
        {
            yield return $"{SectionPath}:Issuer must be an absolute https URL.";
        }
        else
        {
            if (issuer.Scheme != Uri.UriSchemeHttps && !(issuer.Scheme == Uri.UriSchemeHttp && issuer.IsLoopback))
            {
                yield return $"{SectionPath}:Issuer must use https (http only for a loopback host).";
            }

            if (issuer.Query.Length > 0 || issuer.Fragment.Length > 0 || Issuer.Contains('#', StringComparison.Ordinal))
            {
                yield return $"{SectionPath}:Issuer must not have a query or fragment.";
            }
        }

        if (string.IsNullOrWhiteSpace(TokenType) || TokenType.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            yield return $"{SectionPath}:TokenType must be a media type without spaces, for example at+jwt.";
        }
    }
}
