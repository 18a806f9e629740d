namespace JitBroker.OAuth;

/// <summary>
/// The registered OAuth 2 error codes this project and the broker's endpoints send, as their wire values:
/// RFC 6749 §5.2, RFC 8707 §2, RFC 9396 §5, RFC 9449 §7.1, RFC 8628 §3.5, RFC 7009 §2.2.1, RFC 6750 §3.1.
/// </summary>
public static class OAuthErrors
{
    public const string InvalidRequest = "invalid_request";
    public const string InvalidClient = "invalid_client";
    public const string InvalidGrant = "invalid_grant";
    public const string UnauthorizedClient = "unauthorized_client";
    public const string UnsupportedGrantType = "unsupported_grant_type";
    public const string InvalidScope = "invalid_scope";
    public const string InvalidTarget = "invalid_target";
    public const string InvalidAuthorizationDetails = "invalid_authorization_details";
    public const string AccessDenied = "access_denied";
    public const string AuthorizationPending = "authorization_pending";
    public const string SlowDown = "slow_down";
    public const string ExpiredToken = "expired_token";
    public const string InvalidDpopProof = "invalid_dpop_proof";
    public const string UnsupportedTokenType = "unsupported_token_type";
    public const string ServerError = "server_error";
    public const string TemporarilyUnavailable = "temporarily_unavailable";
}
