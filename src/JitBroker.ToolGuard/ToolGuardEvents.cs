using JitBroker.OAuth;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace JitBroker.ToolGuard;

/// <summary>
/// The JwtBearer events that make a JitBroker resource server, in request order: read the token from
/// <c>Authorization: Bearer</c> or <c>Authorization: DPoP</c> (one header, RFC 9449 §7.1); JwtBearer validates
/// signature, issuer, audience, <c>typ at+jwt</c>, lifetime; then the sender constraint (<see cref="SenderConstraint"/>),
/// the revocation list and introspection; refusals become challenges with a stable reason (<see cref="ToolGuardChallenge"/>).
/// </summary>
internal sealed class ToolGuardEvents : JwtBearerEvents
{
    public ToolGuardEvents()
    {
        OnMessageReceived = MessageReceivedAsync;
        OnAuthenticationFailed = AuthenticationFailedAsync;
        OnTokenValidated = TokenValidatedAsync;
        OnChallenge = ChallengeAsync;
    }

    private static Task MessageReceivedAsync(MessageReceivedContext context)
    {
        var state = ToolGuardRequestState.Of(context.HttpContext);
        var headers = context.Request.Headers.Authorization;
        if (headers.Count == 0)
        {
            context.NoResult();
            return Task.CompletedTask;
        }

        // Two headers, or two values folded into one (RFC 9110 §5.3): a JWS never contains a comma.
        if (headers.Count > 1 || headers[0]?.Contains(',', StringComparison.Ordinal) == true)
        {
            state.Refuse(ToolGuardReasons.AuthorizationRepeated, "send one Authorization header");
            context.Fail(state.Reason!);
            return Task.CompletedTask;
        }

        var value = headers[0] ?? "";
        var space = value.IndexOf(' ', StringComparison.Ordinal);
        var scheme = space > 0 ? value[..space] : value;
        var token = space > 0 ? value[(space + 1)..].Trim() : "";
        if (scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            state.Scheme = "Bearer";
        }
        else if (scheme.Equals("DPoP", StringComparison.OrdinalIgnoreCase))
        {
            state.Scheme = "DPoP";
        }
        else
        {
            context.NoResult(); // another scheme: not ours to judge; the challenge says what we accept
            return Task.CompletedTask;
        }

        if (token.Length == 0)
        {
            state.Refuse(ToolGuardReasons.TokenInvalid, "the Authorization header has no token");
            context.Fail(state.Reason!);
            return Task.CompletedTask;
        }

        state.Token = token;
        context.Token = token;
        return Task.CompletedTask;
    }

    private static Task AuthenticationFailedAsync(AuthenticationFailedContext context)
    {
        var state = ToolGuardRequestState.Of(context.HttpContext);
        var (reason, description) = context.Exception switch
        {
            SecurityTokenExpiredException => (ToolGuardReasons.TokenExpired, "the token has expired"),
            SecurityTokenNotYetValidException => (ToolGuardReasons.TokenNotYetValid, "the token is not valid yet"),
            SecurityTokenInvalidAudienceException => (ToolGuardReasons.AudienceInvalid, "the token is not for this resource"),
            SecurityTokenInvalidIssuerException => (ToolGuardReasons.IssuerInvalid, "the token is not from the trusted broker"),
            SecurityTokenInvalidTypeException => (ToolGuardReasons.TypInvalid, "the token is not an access token (typ at+jwt)"),
            SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => (ToolGuardReasons.SignatureInvalid, "the token signature is invalid"),
            InvalidOperationException or HttpRequestException => (ToolGuardReasons.MetadataUnavailable, "the broker's metadata could not be read"),
            _ => (ToolGuardReasons.TokenInvalid, "the token is invalid"),
        };
        state.Refuse(reason, description);
        return Task.CompletedTask;
    }

    private static async Task TokenValidatedAsync(TokenValidatedContext context)
    {
        var http = context.HttpContext;
        var state = ToolGuardRequestState.Of(http);
        var cancellationToken = http.RequestAborted;
        if (context.SecurityToken is not JsonWebToken jwt || state.Token is null)
        {
            state.Refuse(ToolGuardReasons.TokenInvalid, "the token is not a JWS");
            context.Fail(state.Reason!);
            return;
        }

        state.Jti = jwt.Id is { Length: > 0 } jti ? jti : null;
        var services = http.RequestServices;
        if (!await services.GetRequiredService<SenderConstraint>().CheckAsync(http, jwt, state, cancellationToken).ConfigureAwait(false))
        {
            context.Fail(state.Reason!);
            return;
        }

        var options = services.GetRequiredService<IOptions<ToolGuardOptions>>().Value;
        if (PushedRevocations.IsRevoked(services, jwt, state.Jti))
        {
            state.Refuse(ToolGuardReasons.Revoked, "the credential was revoked");
            context.Fail(state.Reason!);
            return;
        }

        if (!options.Introspection.Enabled)
        {
            return;
        }

        var verdict = await services.GetRequiredService<IntrospectionCheck>()
            .CheckAsync(state.Token, CredentialUse.Fingerprint(state.Token), state.Jti ?? "", jwt.ValidTo, cancellationToken).ConfigureAwait(false);
        if (verdict != IntrospectionVerdict.Active)
        {
            state.Refuse(verdict == IntrospectionVerdict.Inactive ? ToolGuardReasons.Revoked : ToolGuardReasons.IntrospectionUnavailable,
                verdict == IntrospectionVerdict.Inactive ? "the credential is no longer active" : "the broker could not confirm the credential");
            context.Fail(state.Reason!);
        }
    }

    private static async Task ChallengeAsync(JwtBearerChallengeContext context)
    {
        context.HandleResponse();
        var http = context.HttpContext;
        var state = ToolGuardRequestState.Of(http);
        var services = http.RequestServices;
        services.GetRequiredService<UseRecorder>().Refused(http, state, state.Reason ?? ToolGuardReasons.TokenMissing);
        await ToolGuardChallenge.WriteUnauthorizedAsync(http, state, services.GetRequiredService<IOptions<ToolGuardOptions>>().Value,
            http.RequestAborted).ConfigureAwait(false);
    }

    internal static readonly string DpopAlgorithms = string.Join(' ', DpopProofValidator.SupportedAlgorithms);
}
