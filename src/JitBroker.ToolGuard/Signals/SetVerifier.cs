using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace JitBroker.ToolGuard;

/// <summary>A SET the receiver refuses: an RFC 8935 §2.3 <c>err</c> and a description for the transmitter.</summary>
internal sealed record SetRefusal(string Err, string Description);

/// <summary>
/// Verifies one pushed SET in a fixed order, each step refusing with an RFC 8935 error: a compact JWS of ASCII; signature
/// against the broker's JWKS (the one the bearer scheme uses; an unknown <c>kid</c> refreshes it once, for rotation, and
/// is answered 503 — retry — if still unknown);
/// header <c>typ: secevent+jwt</c> (a task token is not a SET); <c>iss</c> = the broker; <c>aud</c> one of this tool's
/// audiences; <c>iat</c> inside the window; a <c>jti</c>. Returns the verified token or the refusal — never throws for input.
/// </summary>
internal sealed class SetVerifier(IOptions<ToolGuardOptions> options, IOptionsMonitor<JwtBearerOptions> bearer, TimeProvider time)
{
    public const string TokenType = "secevent+jwt";

    private static readonly string[] Algorithms =
        [SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSsaPssSha256];

    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly ConcurrentDictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);

    public async Task<(JsonWebToken? Set, SetRefusal? Refusal)> VerifyAsync(string compact, CancellationToken cancellationToken = default)
    {
        if (compact.Split('.') is not { Length: 3 } parts || parts.Any(p => p.Length == 0))
        {
            return Refuse("invalid_request", "the body is not a compact JWS");
        }

        var result = await ValidateAsync(compact, refresh: false, cancellationToken).ConfigureAwait(false);
        if (result.Exception is SecurityTokenSignatureKeyNotFoundException)
        {
            result = await ValidateAsync(compact, refresh: true, cancellationToken).ConfigureAwait(false); // keys rotated?
            if (result.Exception is SecurityTokenSignatureKeyNotFoundException)
            {
                // Still unknown: perhaps a key newer than the JWKS refresh allows us to see yet. A 400 would make the broker
                // drop a genuine revocation for good; a 503 makes it retry until the keys catch up (a forgery gains nothing).
                throw new SetKeysUnavailableException(result.Exception);
            }
        }

        if (!result.IsValid)
        {
            return result.Exception switch
            {
                SecurityTokenInvalidAudienceException => Refuse("invalid_audience", "the SET is not addressed to this receiver"),
                SecurityTokenInvalidIssuerException => Refuse("invalid_issuer", "the SET is not from the trusted broker"),
                SecurityTokenInvalidSignatureException => Refuse("invalid_key", "the SET signature does not verify with the broker's keys"),
                SecurityTokenInvalidTypeException => Refuse("invalid_request", "the SET's typ is not secevent+jwt"),
                SecurityTokenInvalidAlgorithmException => Refuse("invalid_request", "the SET's alg is not accepted"),
                _ => Refuse("invalid_request", "the SET is malformed"),
            };
        }

        var set = (JsonWebToken)result.SecurityToken;
        var o = options.Value;
        var now = time.GetUtcNow();
        if (!set.TryGetPayloadValue<long>("iat", out var iatSeconds))
        {
            return Refuse("invalid_request", "the SET has no iat");
        }

        var iat = DateTimeOffset.FromUnixTimeSeconds(iatSeconds);
        if (iat < now - o.Signals.MaxSetAge - o.ClockSkew || iat > now + o.ClockSkew)
        {
            return Refuse("invalid_request", "the SET's iat is outside the accepted window");
        }

        return set.Id is { Length: > 0 and <= 256 }
            ? (set, null)
            : Refuse("invalid_request", "the SET has no usable jti");
    }

    /// <summary>
    /// True the first time a SET id is seen. A repeat is acknowledged but not applied again: the broker delivers at least
    /// once and re-sends with the same jti when an acknowledgement was lost. Entries outlive the iat window, after which
    /// the window itself refuses a replay; when full, the entry that ends first is forgotten (a replayed revocation only
    /// revokes again).
    /// </summary>
    public bool FirstTime(string jti)
    {
        var o = options.Value;
        var now = time.GetUtcNow();
        if (_seen.Count >= o.Signals.ReplayCacheSize)
        {
            foreach (var (key, until) in _seen)
            {
                if (until < now)
                {
                    _seen.TryRemove(key, out _);
                }
            }

            if (_seen.Count >= o.Signals.ReplayCacheSize && _seen.MinBy(e => e.Value) is { Key: { } oldest })
            {
                _seen.TryRemove(oldest, out _);
            }
        }

        return _seen.TryAdd(jti, now + o.Signals.MaxSetAge + (o.ClockSkew * 2));
    }

    private async Task<TokenValidationResult> ValidateAsync(string compact, bool refresh, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var manager = bearer.Get(ToolGuardDefaults.AuthenticationScheme).ConfigurationManager;
        OpenIdConnectConfiguration configuration;
        try
        {
            if (manager is null)
            {
                throw new InvalidOperationException("no metadata configuration manager");
            }

            if (refresh)
            {
                manager.RequestRefresh();
            }

            configuration = (OpenIdConnectConfiguration)await manager.GetConfigurationAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or HttpRequestException or IOException)
        {
            // Keys unknown: the transmitter must retry (a 5xx, not a 400 it would treat as final).
            throw new SetKeysUnavailableException(e);
        }

        return await _handler.ValidateTokenAsync(compact, new TokenValidationParameters
        {
            ValidIssuer = o.Issuer,
            ValidAudiences = o.Signals.Audiences.Count > 0 ? o.Signals.Audiences : [o.Resource],
            ValidTypes = [TokenType],
            ValidAlgorithms = Algorithms,
            IssuerSigningKeys = configuration.SigningKeys,
            ValidateLifetime = false, // a SET has no exp (RFC 8417 §2.2); iat is checked above
            RequireExpirationTime = false,
            RequireSignedTokens = true,
        }).ConfigureAwait(false);
    }

    private static (JsonWebToken?, SetRefusal?) Refuse(string err, string description) => (null, new SetRefusal(err, description));
}

/// <summary>The broker's keys could not be read: answered 503 so the transmitter retries.</summary>
internal sealed class SetKeysUnavailableException(Exception inner) : Exception("the broker's JWKS could not be read", inner);

/// <summary>What a verified SET says, read strictly from its claims.</summary>
internal static class SetEvents
{
    public const string SessionRevoked = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
    public const string Verification = "https://schemas.openid.net/secevent/ssf/event-type/verification";

    /// <summary>The verified payload as JSON (the signature covers exactly these bytes).</summary>
    public static JsonElement Payload(JsonWebToken set)
    {
        using var json = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(set.EncodedPayload));
        return json.RootElement.Clone();
    }

    /// <summary>The one event of the SET (SSF: exactly one), or null when <c>events</c> is not one object member.</summary>
    public static (string Type, JsonElement Body)? Single(JsonElement payload)
    {
        if (!payload.TryGetProperty("events", out var events) || events.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        (string, JsonElement)? only = null;
        foreach (var e in events.EnumerateObject())
        {
            if (only is not null || e.Value.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            only = (e.Name, e.Value);
        }

        return only;
    }

    /// <summary>The SET's subject: the top-level <c>sub_id</c> (SSF 1.0), else the event's <c>subject</c> (CAEP drafts).</summary>
    public static JsonElement? Subject(JsonElement payload, JsonElement body) =>
        payload.TryGetProperty("sub_id", out var subId) && subId.ValueKind == JsonValueKind.Object ? subId
        : body.TryGetProperty("subject", out var subject) && subject.ValueKind == JsonValueKind.Object ? subject
        : null;

    public static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
