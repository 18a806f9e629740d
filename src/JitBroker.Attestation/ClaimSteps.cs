using System.Text.Json;
using JitBroker.Core;
using static JitBroker.Attestation.TokenValidationContext;

namespace JitBroker.Attestation;

/// <summary>
/// Step 6a, on a verified token: <c>exp</c> is required and not past (RFC 7519 §4.1.4); <c>nbf</c> and
/// <c>iat</c>, when present, are not in the future; the token is not older than the maximum age (by
/// <c>iat</c>, or without it by how long it still claims to be valid). The leeway applies to each. The rules
/// themselves live in <see cref="TokenLifetime"/>, which the verified-token cache applies again on every hit.
/// </summary>
internal sealed class LifetimeStep(TimeSpan leeway, TimeSpan maxTokenAge) : SyncTokenValidationStep
{
    // 9999-12-31T23:59:59Z: beyond it a NumericDate does not fit a DateTimeOffset.
    private const double MaxNumericDate = 253402300799;

    public override void Validate(TokenValidationContext context)
    {
        // Read and check claim by claim, in this order, so a token with several faults keeps reporting the first.
        var claims = context.Claims;
        var now = context.Now;
        var exp = NumericDate(claims, "exp") ?? throw Reject(Reasons.Attestation.ExpMissing, "The token has no 'exp' claim; tokens must expire.");
        ThrowIf(TokenLifetime.ExpiryProblem(now, exp, leeway));
        var nbf = NumericDate(claims, "nbf");
        ThrowIf(TokenLifetime.NotBeforeProblem(now, nbf, leeway));
        var iat = NumericDate(claims, "iat");
        ThrowIf(TokenLifetime.AgeProblem(now, exp, iat, leeway, maxTokenAge));
        context.Lifetime = new TokenLifetime(exp, nbf, iat);
    }

    private static void ThrowIf(BrokerException? problem)
    {
        if (problem is not null)
        {
            throw problem;
        }
    }

    private static DateTimeOffset? NumericDate(JsonElement claims, string name)
    {
        if (!claims.TryGetProperty(name, out var value))
        {
            return null;
        }

        // RFC 7519 §2: NumericDate is a JSON number of seconds, possibly non-integer.
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var seconds)
            || !double.IsFinite(seconds) || seconds < 0 || seconds > MaxNumericDate)
        {
            throw Reject(Reasons.Attestation.ClaimInvalid, $"The token '{name}' claim must be a NumericDate (seconds since the epoch).");
        }

        return DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Floor(seconds * 1000));
    }
}

/// <summary>
/// Step 6b: <c>aud</c> is present, a string or an array of strings, and contains this broker's audience exactly
/// (JWT-SVID §3.2; RFC 7519 §4.1.3) — or, when the call names its own (<see cref="TokenValidationContext.AudienceOverride"/>,
/// the OAuth token endpoint: RFC 7523 §3 item 3), one of those instead.
/// </summary>
internal sealed class AudienceStep(string audience) : SyncTokenValidationStep
{
    private readonly string[] _configured = [audience];

    public override void Validate(TokenValidationContext context)
    {
        var expected = context.AudienceOverride ?? _configured;
        if (!context.Claims.TryGetProperty("aud", out var aud))
        {
            throw Reject(Reasons.Attestation.AudienceMissing, "The token has no 'aud' claim.");
        }

        switch (aud.ValueKind)
        {
            case JsonValueKind.String:
                if (!Names(aud, expected))
                {
                    throw Mismatch();
                }

                return;
            case JsonValueKind.Array:
                if (aud.GetArrayLength() == 0)
                {
                    throw Reject(Reasons.Attestation.AudienceMissing, "The token 'aud' claim is empty.");
                }

                var found = false;
                foreach (var element in aud.EnumerateArray())
                {
                    if (element.ValueKind != JsonValueKind.String)
                    {
                        throw Reject(Reasons.Attestation.ClaimInvalid, "The token 'aud' claim must be a string or an array of strings.");
                    }

                    found |= Names(element, expected);
                }

                if (!found)
                {
                    throw Mismatch();
                }

                return;
            default:
                throw Reject(Reasons.Attestation.ClaimInvalid, "The token 'aud' claim must be a string or an array of strings.");
        }

        Exception Mismatch() => Reject(Reasons.Attestation.AudienceMismatch,
            $"The token is not addressed to this broker (expected audience '{string.Join("' or '", expected)}').");
    }

    private static bool Names(JsonElement value, IReadOnlyList<string> expected)
    {
        foreach (var candidate in expected)
        {
            if (value.ValueEquals(candidate))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>Step 6c: optional claims the identity reports (<c>iss</c>, <c>jti</c>) are strings when present.</summary>
internal sealed class OptionalClaimsStep : SyncTokenValidationStep
{
    public const int MaxTokenIdLength = 256;
    public const int MaxIssuerLength = 2048;

    public override void Validate(TokenValidationContext context)
    {
        context.Issuer = OptionalString(context.Claims, "iss", MaxIssuerLength);
        context.TokenId = OptionalString(context.Claims, "jti", MaxTokenIdLength);
    }

    private static string? OptionalString(JsonElement claims, string name, int maxLength)
    {
        if (!claims.TryGetProperty(name, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } text || text.Length > maxLength)
        {
            throw Reject(Reasons.Attestation.ClaimInvalid, $"The token '{name}' claim must be a non-empty string of at most {maxLength} characters.");
        }

        return text;
    }
}
