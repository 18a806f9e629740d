namespace JitBroker.OAuth;

/// <summary>
/// The stable reason codes this project raises, one per refusal, carried by <see cref="OAuthProtocolException.Reason"/>.
/// A code, once released, never changes meaning. Dotted lowercase, <c>area.snake_case</c>, like JitBroker.Core's
/// <c>Reasons</c> (this project cannot reference Core: a tool-side library reuses it).
/// </summary>
public static class OAuthReasons
{
    // The form body (RFC 6749 §3.1/§3.2, WHATWG application/x-www-form-urlencoded).
    public const string FormTooLarge = "oauth.form_too_large";
    public const string FormBadPercentEncoding = "oauth.form_bad_percent_encoding";
    public const string FormBadUtf8 = "oauth.form_bad_utf8";
    public const string FormControlCharacter = "oauth.form_control_character";
    public const string FormTooManyParameters = "oauth.form_too_many_parameters";
    public const string FormParameterTooLong = "oauth.form_parameter_too_long";
    public const string FormEmptyName = "oauth.form_empty_name";
    public const string FormDuplicateParameter = "oauth.form_duplicate_parameter";

    // resource (RFC 8707 §2).
    public const string ResourceMultiple = "oauth.resource_multiple";
    public const string ResourceInvalid = "oauth.resource_invalid";
    public const string ResourceMissing = "oauth.resource_missing";

    // scope (RFC 6749 §3.3) and the action it declares.
    public const string ScopeInvalid = "oauth.scope_invalid";
    public const string ScopeDuplicateToken = "oauth.scope_duplicate_token";
    public const string ScopeMultipleActions = "oauth.scope_multiple_actions";
    public const string ScopeDetailsMismatch = "oauth.scope_details_mismatch";
    public const string ActionMissing = "oauth.action_missing";

    // authorization_details (RFC 9396 §2).
    public const string DetailsTooLarge = "oauth.authorization_details_too_large";
    public const string DetailsMalformed = "oauth.authorization_details_malformed";
    public const string DetailsDuplicateMember = "oauth.authorization_details_duplicate_member";
    public const string DetailsNotOneObject = "oauth.authorization_details_not_one_object";
    public const string DetailsUnknownType = "oauth.authorization_details_unknown_type";
    public const string DetailsUnknownMember = "oauth.authorization_details_unknown_member";
    public const string DetailsWrongType = "oauth.authorization_details_wrong_type";
    public const string DetailsInvalidValue = "oauth.authorization_details_invalid_value";
    public const string DetailsTtlInvalid = "oauth.authorization_details_ttl_invalid";
    public const string DetailsLocationMismatch = "oauth.authorization_details_location_mismatch";

    // DPoP proofs (RFC 9449 §4.2/§4.3), in the order the validator checks them.
    public const string DpopProofTooLong = "dpop.proof_too_long";
    public const string DpopProofMalformed = "dpop.proof_malformed";
    public const string DpopHeaderMalformed = "dpop.header_malformed";
    public const string DpopDuplicateMember = "dpop.duplicate_member";
    public const string DpopTypInvalid = "dpop.typ_invalid";
    public const string DpopAlgUnsupported = "dpop.alg_unsupported";
    public const string DpopCritUnsupported = "dpop.crit_unsupported";
    public const string DpopJwkMissing = "dpop.jwk_missing";
    public const string DpopJwkPrivate = "dpop.jwk_private";
    public const string DpopJwkKtyMismatch = "dpop.jwk_kty_mismatch";
    public const string DpopJwkCurveMismatch = "dpop.jwk_curve_mismatch";
    public const string DpopJwkRsaKeySize = "dpop.jwk_rsa_key_size";
    public const string DpopJwkInvalid = "dpop.jwk_invalid";
    public const string DpopSignatureInvalid = "dpop.signature_invalid";
    public const string DpopPayloadMalformed = "dpop.payload_malformed";
    public const string DpopJtiInvalid = "dpop.jti_invalid";
    public const string DpopHtmInvalid = "dpop.htm_invalid";
    public const string DpopHtmMismatch = "dpop.htm_mismatch";
    public const string DpopHtuInvalid = "dpop.htu_invalid";
    public const string DpopHtuMismatch = "dpop.htu_mismatch";
    public const string DpopIatInvalid = "dpop.iat_invalid";
    public const string DpopIatTooOld = "dpop.iat_too_old";
    public const string DpopIatInFuture = "dpop.iat_in_future";
    public const string DpopAthMissing = "dpop.ath_missing";
    public const string DpopAthMismatch = "dpop.ath_mismatch";
    public const string DpopProofReplayed = "dpop.proof_replayed";

    // JWK thumbprints (RFC 7638) outside a proof.
    public const string JwkUnsupported = "dpop.jwk_unsupported";
}
