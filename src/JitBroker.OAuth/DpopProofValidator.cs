using System.Collections.ObjectModel;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace JitBroker.OAuth;

/// <summary>
/// Checks a DPoP proof (RFC 9449 §4.2/§4.3) against the request it came with. The checks run in a fixed order, each
/// refusing with <see cref="OAuthErrors.InvalidDpopProof"/> and its own reason: length; compact JWS of three strict
/// base64url parts; header JSON (typ dpop+jwt, alg in <see cref="SupportedAlgorithms"/>, no crit, a public jwk fitting
/// the alg); the signature with that jwk; payload JSON (jti, htm, htu, iat, ath); last, the replay store — so a
/// proof that fails any other check never consumes its jti. Bad input never throws anything but
/// <see cref="OAuthProtocolException"/>; a failing replay store's exception propagates (fail closed: no proof passes).
/// </summary>
public sealed class DpopProofValidator
{
    /// <summary>The algorithms accepted, as the authorization server metadata advertises them (dpop_signing_alg_values_supported).</summary>
    public static readonly IReadOnlyList<string> SupportedAlgorithms = new ReadOnlyCollection<string>(["ES256", "ES384", "RS256", "PS256"]);

    public const string ProofType = "dpop+jwt";
    public const int MaxJtiLength = 256;

    private readonly DpopValidationOptions _options;
    private readonly IDpopReplayStore _replay;
    private readonly TimeProvider _time;

    public DpopProofValidator(DpopValidationOptions options, IDpopReplayStore replay, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.MaxProofAge, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ClockSkew, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.MaxProofLength, 0);
        _options = options;
        _replay = replay;
        _time = time;
    }

    /// <summary>The verified proof; throws <see cref="OAuthProtocolException"/> (invalid_dpop_proof, "dpop.…").</summary>
    public async ValueTask<DpopProof> ValidateAsync(string proof, DpopRequest request, CancellationToken cancellationToken = default)
    {
        DpopProof verified;
        try
        {
            verified = Check(proof, request);
        }
        catch (Exception e) when (e is JsonException or FormatException or CryptographicException or InvalidOperationException or ArgumentException or OverflowException)
        {
            // Every expected refusal is raised explicitly; this is the boundary for whatever a check did not foresee.
            throw Refuse(OAuthReasons.DpopProofMalformed, "the DPoP proof is malformed");
        }

        var keepUntil = verified.IssuedAt + _options.MaxProofAge + _options.ClockSkew;
        if (!await _replay.TryRecordAsync($"dpop:{verified.KeyThumbprint}:{verified.Jti}", keepUntil, cancellationToken).ConfigureAwait(false))
        {
            throw Refuse(OAuthReasons.DpopProofReplayed, "the DPoP proof was used before");
        }

        return verified;
    }

    private DpopProof Check(string proof, DpopRequest request)
    {
        if (proof.Length > _options.MaxProofLength)
        {
            throw Refuse(OAuthReasons.DpopProofTooLong, $"the DPoP proof is over {_options.MaxProofLength} characters");
        }

        var parts = proof.Split('.');
        byte[] headerBytes = [], payloadBytes = [], signature = [];
        if (parts.Length != 3 || !StrictBase64Url.TryDecode(parts[0], out headerBytes)
            || !StrictBase64Url.TryDecode(parts[1], out payloadBytes) || !StrictBase64Url.TryDecode(parts[2], out signature))
        {
            throw Refuse(OAuthReasons.DpopProofMalformed, "the DPoP proof is not a compact JWS of three base64url parts");
        }

        using var headerDocument = ParseObject(headerBytes, OAuthReasons.DpopHeaderMalformed, "header");
        var header = headerDocument.RootElement;
        if (Text(header, "typ") != ProofType)
        {
            throw Refuse(OAuthReasons.DpopTypInvalid, "the DPoP proof typ must be dpop+jwt");
        }

        var alg = Text(header, "alg");
        if (alg is null || !SupportedAlgorithms.Contains(alg, StringComparer.Ordinal))
        {
            throw Refuse(OAuthReasons.DpopAlgUnsupported, "the DPoP proof alg must be one of " + string.Join(' ', SupportedAlgorithms));
        }

        if (header.TryGetProperty("crit", out _))
        {
            throw Refuse(OAuthReasons.DpopCritUnsupported, "the DPoP proof header has crit; no extension is understood");
        }

        DpopSignature.Verify(alg, header, Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), signature);
        var thumbprint = JwkThumbprint.Compute(header.GetProperty("jwk"));

        using var payloadDocument = ParseObject(payloadBytes, OAuthReasons.DpopPayloadMalformed, "payload");
        var payload = payloadDocument.RootElement;
        var jti = Text(payload, "jti");
        if (jti is not { Length: > 0 and <= MaxJtiLength })
        {
            throw Refuse(OAuthReasons.DpopJtiInvalid, $"the DPoP proof jti must be a string of 1 to {MaxJtiLength} characters");
        }

        var htm = Text(payload, "htm") ?? throw Refuse(OAuthReasons.DpopHtmInvalid, "the DPoP proof htm must be a string");
        if (htm != request.Method)
        {
            throw Refuse(OAuthReasons.DpopHtmMismatch, "the DPoP proof htm is not the request method");
        }

        var htu = Text(payload, "htu") is { } htuText ? HttpTargetUri.Normalise(htuText) : null;
        if (htu is null)
        {
            throw Refuse(OAuthReasons.DpopHtuInvalid, "the DPoP proof htu must be an absolute http(s) URI");
        }

        if (htu != HttpTargetUri.Normalise(request.TargetUri))
        {
            throw Refuse(OAuthReasons.DpopHtuMismatch, "the DPoP proof htu is not the request URI");
        }

        var issuedAt = IssuedAt(payload);
        CheckAccessTokenHash(payload, request.AccessToken);
        return new DpopProof(thumbprint, jti, issuedAt, alg);
    }

    private DateTimeOffset IssuedAt(JsonElement payload)
    {
        // NumericDate (RFC 7519 §2) may have a fraction; bounded so the conversion cannot overflow.
        if (!payload.TryGetProperty("iat", out var iat) || iat.ValueKind != JsonValueKind.Number
            || !iat.TryGetDouble(out var seconds) || !double.IsFinite(seconds) || seconds is < 0 or > 253_402_300_799)
        {
            throw Refuse(OAuthReasons.DpopIatInvalid, "the DPoP proof iat must be a NumericDate");
        }

        var issuedAt = DateTimeOffset.UnixEpoch.AddSeconds(seconds);
        var now = _time.GetUtcNow();
        if (issuedAt < now - _options.MaxProofAge - _options.ClockSkew)
        {
            throw Refuse(OAuthReasons.DpopIatTooOld, "the DPoP proof is too old");
        }

        if (issuedAt > now + _options.ClockSkew)
        {
            throw Refuse(OAuthReasons.DpopIatInFuture, "the DPoP proof iat is in the future");
        }

        return issuedAt;
    }

    private static void CheckAccessTokenHash(JsonElement payload, string? accessToken)
    {
        if (accessToken is null)
        {
            return; // a token request: ath, if any, is ignored (RFC 9449 §4.2)
        }

        var ath = Text(payload, "ath") ?? throw Refuse(OAuthReasons.DpopAthMissing, "the DPoP proof has no ath for the access token presented");
        var expected = Ascii.IsValid(accessToken) ? StrictBase64Url.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(accessToken))) : null;
        if (ath != expected)
        {
            throw Refuse(OAuthReasons.DpopAthMismatch, "the DPoP proof ath is not the hash of the access token presented");
        }
    }

    private static JsonDocument ParseObject(byte[] utf8, string reason, string part)
    {
        var document = Utf8.IsValid(utf8) ? StrictJson.TryParse(utf8) : null;
        if (document is null || document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document?.Dispose();
            throw Refuse(reason, $"the DPoP proof {part} is not a JSON object");
        }

        if (StrictJson.HasDuplicateMembers(document.RootElement))
        {
            document.Dispose();
            throw Refuse(OAuthReasons.DpopDuplicateMember, $"the DPoP proof {part} names a member twice");
        }

        return document;
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? StrictJson.StringOrNull(value) : null;

    private static OAuthProtocolException Refuse(string reason, string description) => new(OAuthErrors.InvalidDpopProof, reason, description);
}
