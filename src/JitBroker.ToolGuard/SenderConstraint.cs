using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;
using JitBroker.OAuth;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;

namespace JitBroker.ToolGuard;

/// <summary>
/// The token's <c>cnf</c> decides how it must be presented, in this order: a <c>cnf.jkt</c> token (RFC 9449) only with
/// the DPoP scheme and one valid proof of that key for this request (htm, htu from <see cref="ToolGuardOptions.PublicBaseUrl"/>,
/// iat window, jti replay, ath); an unbound token only as Bearer (unless DPoP binding is required); a
/// <c>cnf.x5t#S256</c> token (RFC 8705 §3) only over a TLS connection whose client certificate has that thumbprint.
/// Returns null when satisfied, else the refusal written into the request state.
/// </summary>
internal sealed class SenderConstraint(
    IOptions<ToolGuardOptions> options, [FromKeyedServices(ToolGuardDefaults.AuthenticationScheme)] IDpopReplayStore replay, TimeProvider time)
{
    private readonly DpopProofValidator _dpop = new(
        new DpopValidationOptions { MaxProofAge = options.Value.DpopMaxProofAge, ClockSkew = options.Value.ClockSkew }, replay, time);

    public async Task<bool> CheckAsync(HttpContext http, JsonWebToken token, ToolGuardRequestState state, CancellationToken cancellationToken = default)
    {
        if (!TryReadCnf(token, out var jkt, out var x5t))
        {
            state.Refuse(ToolGuardReasons.CnfInvalid, "the token's cnf claim is malformed");
            return false;
        }

        if (jkt is not null)
        {
            if (!await CheckDpopAsync(http, state, jkt, cancellationToken).ConfigureAwait(false))
            {
                return false;
            }
        }
        else if (state.Scheme == "DPoP")
        {
            state.Refuse(ToolGuardReasons.DpopSchemeUnbound, "the DPoP scheme was used with a token that is not DPoP-bound", dpop: true);
            return false;
        }
        else if (options.Value.DpopBoundTokensRequired)
        {
            state.Refuse(ToolGuardReasons.DpopRequired, "this resource accepts DPoP-bound tokens only", dpop: true);
            return false;
        }

        return x5t is null || await CheckCertificateAsync(http, state, x5t, cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> CheckDpopAsync(HttpContext http, ToolGuardRequestState state, string jkt, CancellationToken cancellationToken = default)
    {
        if (state.Scheme != "DPoP")
        {
            // RFC 9449 §7.1: a bound token presented as a bearer token is refused; its holder must prove the key.
            state.Refuse(ToolGuardReasons.DpopBoundAsBearer, "a DPoP-bound token must be sent with the DPoP scheme", dpop: true);
            return false;
        }

        var proofs = http.Request.Headers["DPoP"];
        if (proofs.Count == 0 || string.IsNullOrEmpty(proofs[0]))
        {
            state.Refuse(ToolGuardReasons.DpopProofMissing, "the request has no DPoP proof", dpop: true, error: OAuthErrors.InvalidDpopProof);
            return false;
        }

        if (proofs.Count > 1 || proofs[0]!.Contains(',', StringComparison.Ordinal))
        {
            state.Refuse(ToolGuardReasons.DpopProofRepeated, "the request has more than one DPoP proof", dpop: true, error: OAuthErrors.InvalidDpopProof);
            return false;
        }

        DpopProof proof;
        try
        {
            proof = await _dpop.ValidateAsync(proofs[0]!, new DpopRequest(http.Request.Method, TargetUri(http), state.Token), cancellationToken).ConfigureAwait(false);
        }
        catch (OAuthProtocolException e)
        {
            state.Refuse(e.Reason, e.Description, dpop: true, error: OAuthErrors.InvalidDpopProof);
            return false;
        }

        if (!CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(proof.KeyThumbprint), System.Text.Encoding.ASCII.GetBytes(jkt)))
        {
            state.Refuse(ToolGuardReasons.DpopKeyMismatch, "the DPoP proof is signed by another key than the token is bound to", dpop: true, error: OAuthErrors.InvalidDpopProof);
            return false;
        }

        return true;
    }

    private static async Task<bool> CheckCertificateAsync(HttpContext http, ToolGuardRequestState state, string x5t, CancellationToken cancellationToken = default)
    {
        var certificate = http.Connection.ClientCertificate ?? await http.Connection.GetClientCertificateAsync(cancellationToken).ConfigureAwait(false);
        if (certificate is null)
        {
            state.Refuse(ToolGuardReasons.CertificateMissing, "a certificate-bound token needs the bound TLS client certificate");
            return false;
        }

        var thumbprint = Base64Url.EncodeToString(SHA256.HashData(certificate.RawData));
        if (thumbprint != x5t)
        {
            state.Refuse(ToolGuardReasons.CertificateMismatch, "the TLS client certificate is not the one the token is bound to");
            return false;
        }

        return true;
    }

    /// <summary>The URI the client addressed, from the configured public base URL; the query does not count (RFC 9449 §4.3).</summary>
    internal Uri TargetUri(HttpContext http) =>
        new(ToolGuardUrls.PublicBase(options.Value) + http.Request.PathBase.ToUriComponent() + http.Request.Path.ToUriComponent());

    // cnf (RFC 7800) is an object; jkt and x5t#S256 are strings when present. Anything else is refused, not ignored.
    private static bool TryReadCnf(JsonWebToken token, out string? jkt, out string? x5t)
    {
        jkt = x5t = null;
        byte[] payload;
        try
        {
            payload = Base64Url.DecodeFromChars(token.EncodedPayload);
        }
        catch (FormatException)
        {
            return false;
        }

        using var json = JsonDocument.Parse(payload);
        if (!json.RootElement.TryGetProperty("cnf", out var cnf))
        {
            return true;
        }

        if (cnf.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        if (cnf.TryGetProperty("jkt", out var j))
        {
            jkt = j.ValueKind == JsonValueKind.String && j.GetString() is { Length: > 0 } s ? s : null;
            if (jkt is null)
            {
                return false;
            }
        }

        if (cnf.TryGetProperty("x5t#S256", out var x))
        {
            x5t = x.ValueKind == JsonValueKind.String && x.GetString() is { Length: > 0 } s ? s : null;
            if (x5t is null)
            {
                return false;
            }
        }

        return jkt is not null || x5t is not null;
    }
}

internal static class ToolGuardUrls
{
    /// <summary>scheme://authority (no trailing slash) that clients use to reach this server.</summary>
    public static string PublicBase(ToolGuardOptions o)
    {
        var uri = new Uri(o.PublicBaseUrl ?? o.Resource);
        return uri.GetLeftPart(UriPartial.Authority);
    }

    /// <summary>RFC 9728 §3.1: the well-known segment goes between the authority and the resource's path.</summary>
    public static string MetadataPath(ToolGuardOptions o)
    {
        var path = new Uri(o.Resource).AbsolutePath.TrimEnd('/');
        return ToolGuardDefaults.MetadataPath + path;
    }

    public static string MetadataUrl(ToolGuardOptions o) => PublicBase(o) + MetadataPath(o);
}
