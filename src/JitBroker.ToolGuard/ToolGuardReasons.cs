namespace JitBroker.ToolGuard;

/// <summary>
/// Stable reason codes of the tool side, sent in <c>error_description</c> and use reports. Dotted lowercase like the
/// broker's catalogue (JitBroker.Core.Reasons cannot be referenced here); DPoP proof reasons are JitBroker.OAuth's.
/// </summary>
public static class ToolGuardReasons
{
    public const string TokenMissing = "toolguard.token_missing";
    public const string AuthorizationRepeated = "toolguard.authorization_header_repeated";
    public const string TokenInvalid = "toolguard.token_invalid";
    public const string TokenExpired = "toolguard.token_expired";
    public const string TokenNotYetValid = "toolguard.token_not_yet_valid";
    public const string AudienceInvalid = "toolguard.audience_invalid";
    public const string IssuerInvalid = "toolguard.issuer_invalid";
    public const string SignatureInvalid = "toolguard.signature_invalid";
    public const string TypInvalid = "toolguard.typ_invalid";
    public const string MetadataUnavailable = "toolguard.metadata_unavailable";
    public const string CnfInvalid = "toolguard.cnf_invalid";
    public const string DpopBoundAsBearer = "toolguard.dpop_bound_token_as_bearer";
    public const string DpopSchemeUnbound = "toolguard.dpop_scheme_unbound_token";
    public const string DpopRequired = "toolguard.dpop_required";
    public const string DpopProofMissing = "toolguard.dpop_proof_missing";
    public const string DpopProofRepeated = "toolguard.dpop_proof_repeated";
    public const string DpopKeyMismatch = "toolguard.dpop_key_mismatch";
    public const string DpopReplayCacheUnavailable = "toolguard.dpop_replay_cache_unavailable";
    public const string CertificateMissing = "toolguard.certificate_missing";
    public const string CertificateMismatch = "toolguard.certificate_mismatch";
    public const string Revoked = "toolguard.revoked";
    public const string IntrospectionUnavailable = "toolguard.introspection_unavailable";
    public const string ToolNotGranted = "toolguard.tool_not_granted";
    public const string ActionNotGranted = "toolguard.action_not_granted";
    public const string ResourceNotGranted = "toolguard.resource_not_granted";
    public const string ResourceRouteValueMissing = "toolguard.resource_route_value_missing";
    public const string McpRequestMalformed = "toolguard.mcp_request_malformed";
    public const string McpRequestTooLarge = "toolguard.mcp_request_too_large";

    /// <summary>A pushed SET was refused (the RFC 8935 <c>err</c> says why).</summary>
    public const string SetRefused = "toolguard.set_refused";
}
