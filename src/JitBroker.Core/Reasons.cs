namespace JitBroker.Core;

/// <summary>
/// The one catalogue of reason codes: every stable, machine-readable code a <see cref="BrokerException"/> carries
/// (to callers in the <c>jitbroker-reason</c> trailer) or an audit record names as its reason. Callers, dashboards,
/// SIEM rules and tests match on these strings, so a code, once released, never changes meaning.
/// </summary>
/// <remarks>
/// One type, not a list per component, so that a code is looked up in one place, two components cannot give one
/// code two meanings (or one meaning two codes), and the snapshot test (<c>ReasonCatalogueTests</c> against
/// <c>tests/JitBroker.Server.Tests/Catalogues/reason-codes.txt</c>) sees every code by reflecting over this type
/// alone. Constants rather than a generated list: a typo at the raise site is a build error, not a new code.
/// Nested classes group codes by the component that raises them; the code's own prefix is its namespace on the wire.
/// Codes are dotted lowercase: <c>area.snake_case</c>.
/// </remarks>
public static class Reasons
{
    public const string RequestInvalid = "request.invalid";

    /// <summary>The request body is not the declared protobuf message (garbage, truncated, wrong wire types).</summary>
    public const string RequestMalformed = "request.malformed";

    /// <summary>A glob pattern given to the admin API (kill-switch block, revocation by pattern) is invalid (docs/policy.md "Globs").</summary>
    public const string PatternInvalid = "request.pattern_invalid";

    public const string IdentityMissing = "identity.missing";
    public const string IdentityUnsupported = "identity.unsupported";

    /// <summary>The caller named an agent id (OAuth <c>client_id</c>) other than the one its evidence attests.</summary>
    public const string IdentityClaimMismatch = "identity.claimed_id_mismatch";

    /// <summary>The <c>authorization</c> header is not <c>Bearer &lt;token&gt;</c>.</summary>
    public const string IdentityMalformedAuthorization = "identity.malformed_authorization";

    /// <summary>More than one <c>authorization</c> header (RFC 9110: a single-value field).</summary>
    public const string IdentityDuplicateAuthorization = "identity.duplicate_authorization";

    /// <summary>
    /// The caller's address caused more failed attestations than <c>JitBroker:Admission:PeerFailuresPerSecond</c> allows; refused before
    /// attestation (RESOURCE_EXHAUSTED). Retry after a short back-off.
    /// </summary>
    public const string PeerRateLimited = "peer.rate_limited";

    /// <summary>The same token was presented again where it may serve only once (replay cache).</summary>
    public const string TokenReplayed = "token.replayed";

    /// <summary>The agent matches a kill-switch block.</summary>
    public const string AgentBlocked = "agent.blocked";

    /// <summary>An unblock named no block in force (the pattern must match a block's exactly).</summary>
    public const string BlockNotFound = "block.not_found";

    public const string PolicyDenied = "policy.denied";
    public const string PolicyApprovalRequired = "policy.approval_required";
    public const string IssuerUnknownKind = "issuer.unknown_kind";
    public const string IssuerUnavailable = "issuer.unavailable";
    public const string IssuerFailed = "issuer.failed";
    public const string LeaseStoreUnavailable = "lease_store.unavailable";
    public const string LeaseNotFound = "lease.not_found";

    /// <summary>The lease (or one on its delegation chain) is revoked, expired or blocked.</summary>
    public const string LeaseNotActive = "lease.not_active";

    /// <summary>A delegated lease cannot be recorded: its parent was revoked (or is being revoked) meanwhile.</summary>
    public const string ParentLeaseNotActive = "lease.parent_not_active";

    /// <summary>Renewal would carry the lease past the lifetime its grant allows.</summary>
    public const string RenewalMaxTtlReached = "renewal.max_ttl_reached";

    public const string TaskNotFound = "task.not_found";
    public const string CredentialInvalid = "credential.invalid";

    /// <summary>The OAuth door's own refusals (src/JitBroker.Server/OAuth; docs/oauth.md). Parsing codes of the form, the intent and DPoP proofs are JitBroker.OAuth.OAuthReasons.</summary>
    public static class OAuth
    {
        /// <summary>The body is not <c>application/x-www-form-urlencoded</c> (UTF-8).</summary>
        public const string FormContentType = "oauth.form_content_type";

        /// <summary>A required parameter is missing.</summary>
        public const string ParameterMissing = "oauth.parameter_missing";

        /// <summary>A grant type the door does not serve.</summary>
        public const string GrantTypeUnsupported = "oauth.grant_type_unsupported";

        /// <summary>A token exchange names a token type the door does not take or issue.</summary>
        public const string TokenTypeUnsupported = "oauth.token_type_unsupported";

        /// <summary><c>client_credentials</c> without the client certificate of the mTLS listener.</summary>
        public const string ClientCertificateRequired = "oauth.client_certificate_required";

        /// <summary>An approval polled faster than its interval (RFC 8628 <c>slow_down</c>).</summary>
        public const string ApprovalPollTooFast = "oauth.approval_poll_too_fast";

        /// <summary>More than one client authentication method in one request (RFC 6749 §2.3).</summary>
        public const string ClientAuthenticationAmbiguous = "oauth.client_authentication_ambiguous";

        /// <summary>A <c>client_assertion_type</c> other than jwt-bearer.</summary>
        public const string ClientAssertionTypeUnsupported = "oauth.client_assertion_type_unsupported";

        /// <summary>Introspection or revocation without any client authentication.</summary>
        public const string ClientAuthenticationMissing = "oauth.client_authentication_missing";

        /// <summary>More than one <c>DPoP</c> header (RFC 9449 §4.3).</summary>
        public const string DpopHeaderCount = "dpop.header_count";

        /// <summary>The door failed unexpectedly (logged; the caller gets <c>server_error</c> and no detail).</summary>
        public const string Internal = "oauth.internal";
    }

    /// <summary>An agent asked to revoke a credential issued to another agent (OAuth token revocation).</summary>
    public const string CredentialNotHolder = "credential.not_holder";
    public const string RevocationBatchNotFound = "revocation.batch_not_found";

    /// <summary>Codes of the admin API.</summary>
    public static class Admin
    {
        public const string NotAnAdmin = "admin.not_an_admin";
        public const string ConfirmationRequired = "admin.confirmation_required";

        /// <summary>The operator's own identity matches a kill-switch block: a blocked principal cannot administer (or unblock itself).</summary>
        public const string Blocked = "admin.blocked";
    }

    /// <summary>Codes of IntrospectCredential.</summary>
    public static class Introspection
    {
        /// <summary>The caller is neither a configured resource server nor the agent the token was issued to.</summary>
        public const string CallerNotAllowed = "introspection.caller_not_allowed";
    }

    /// <summary>Codes of ReportUses (tools reporting credential uses; docs/audit.md "Tool uses").</summary>
    public static class ToolUse
    {
        /// <summary>The caller is not configured as a resource server (<c>JitBroker:Tools:ResourceServers</c>) for any audience.</summary>
        public const string CallerNotResourceServer = "tool_use.caller_not_resource_server";

        /// <summary>More uses in one call than the broker takes (500), or a body over its size limit: nothing was recorded.</summary>
        public const string BatchTooLarge = "tool_use.batch_too_large";

        /// <summary>The HTTP body is not the documented JSON (wrong types, unknown or duplicate members, invalid UTF-8): nothing was recorded.</summary>
        public const string BodyInvalid = "tool_use.body_invalid";

        /// <summary>A use's fields are missing, oversized or out of range (outcome not allowed/refused, a refusal without a reason).</summary>
        public const string UseInvalid = "tool_use.use_invalid";

        /// <summary><c>credential_fingerprint</c> is not <c>sha256:</c> and 64 lowercase hex digits.</summary>
        public const string FingerprintMalformed = "tool_use.fingerprint_malformed";

        /// <summary>The reporting tool is not configured as the resource server of the use's audience.</summary>
        public const string AudienceNotServed = "tool_use.audience_not_served";

        /// <summary>The use names no lease the broker knows (or an allowed use names none at all).</summary>
        public const string LeaseUnknown = "tool_use.lease_unknown";

        /// <summary>The named lease's credential is for another audience than the reporting tool's.</summary>
        public const string AudienceMismatch = "tool_use.audience_mismatch";

        /// <summary>The fingerprint is not the one of the named lease's credential: forged or mismatched.</summary>
        public const string FingerprintMismatch = "tool_use.fingerprint_mismatch";

        /// <summary><c>at</c> is more than 5 minutes in the future, before the lease was issued, or the report came later than the lease's expiry + 1 hour.</summary>
        public const string TimeOutOfWindow = "tool_use.time_out_of_window";
    }

    /// <summary>Codes of per-agent quotas (RESOURCE_EXHAUSTED); docs/policy.md "Quotas".</summary>
    public static class Quota
    {
        /// <summary>The agent's request rate is above its token bucket; the refusal carries a retry hint.</summary>
        public const string RateExceeded = "quota.rate_exceeded";

        /// <summary>The agent already holds its maximum of active leases.</summary>
        public const string ActiveLeasesPerAgent = "quota.active_leases_per_agent";

        /// <summary>The agent's task already holds its maximum of active leases.</summary>
        public const string ActiveLeasesPerTask = "quota.active_leases_per_task";

        /// <summary>The agent already has its maximum of pending approvals (an identical request reuses its approval instead).</summary>
        public const string PendingApprovals = "quota.pending_approvals";

        /// <summary>Too many RequestCredential calls are already waiting for an approval decision (this agent's, or the replica's).</summary>
        public const string ApprovalWaits = "quota.approval_waits";

        /// <summary>Whether <paramref name="reason"/> is one of these codes.</summary>
        public static bool Includes(string reason) => reason.StartsWith("quota.", StringComparison.Ordinal);
    }

    /// <summary>Codes of the approval flow.</summary>
    public static class Approval
    {
        public const string NotFound = "approval.not_found";
        public const string RequestMismatch = "approval.request_mismatch";
        public const string Denied = "approval.denied";
        public const string Expired = "approval.expired";
        public const string AlreadyUsed = "approval.already_used";
        public const string NotAnApprover = "approval.not_an_approver";
        public const string SelfApproval = "approval.self_approval";
        public const string NotPending = "approval.not_pending";
    }

    /// <summary>Codes of the web console (docs/console.md); rendered as <c>#error[data-reason]</c>.</summary>
    public static class Console
    {
        /// <summary>A console POST without a valid anti-forgery token (400).</summary>
        public const string AntiforgeryInvalid = "console.antiforgery_invalid";

        /// <summary>The signed-in person holds no console role (403).</summary>
        public const string NoRole = "console.no_role";

        /// <summary>The action needs a role the person does not hold (403).</summary>
        public const string RoleRequired = "console.role_required";

        /// <summary>The OpenID provider's answer could not be accepted (state, nonce, code redemption, ID token).</summary>
        public const string SignInFailed = "console.signin_failed";

        /// <summary>The console could not complete a request (its OpenID provider unreachable, a backend down): 503, logged with the exception.</summary>
        public const string Unavailable = "console.unavailable";

        /// <summary>A form value is missing or out of bounds (a decision without a reason, a reason too long).</summary>
        public const string InvalidInput = "console.invalid_input";
    }

    /// <summary>Codes of offers and delegated credentials.</summary>
    public static class Delegation
    {
        public const string NotConfigured = "delegation.not_configured";
        public const string Denied = "delegation.denied";
        public const string Widening = "delegation.widening";
        public const string TooDeep = "delegation.too_deep";
        public const string Cycle = "delegation.cycle";
        public const string KindNotDelegable = "delegation.kind_not_delegable";
        public const string OfferInvalid = "delegation.offer_invalid";
        public const string OfferUsed = "delegation.offer_used";
        public const string OfferExpired = "delegation.offer_expired";

        /// <summary>A token exchange presented a sender-constrained (DPoP or certificate-bound) planner token as its subject.</summary>
        public const string SubjectTokenBound = "delegation.subject_token_bound";
    }

    /// <summary>Why a revocation was scheduled, as the audit record's <c>reason</c> names it.</summary>
    public static class Revocation
    {
        /// <summary>An operator revoked through the admin API (or a kill-switch block did).</summary>
        public const string AdminRevoke = "admin.revoke";

        /// <summary>A policy reload no longer grants the lease.</summary>
        public const string PolicyNoLongerGranted = "policy.no_longer_granted";
    }

    /// <summary>Codes of the lease project's replay cache, kill switch and approval stores (all UNAVAILABLE).</summary>
    public static class Store
    {
        public const string ReplayCacheUnavailable = "replay_cache.unavailable";
        public const string KillSwitchUnavailable = "kill_switch.unavailable";
        public const string ApprovalStoreUnavailable = "approval_store.unavailable";

        /// <summary>
        /// Security state read from the shared store (an approval, the kill-switch list) does not carry a valid MAC of the
        /// broker's state integrity key: someone else wrote it, or it predates the key. Refused, never trusted (fail closed).
        /// </summary>
        public const string IntegrityCheckFailed = "store.integrity_check_failed";

        /// <summary>The state integrity key file is missing, unreadable, too short, not base64, or readable by group or other (start-up).</summary>
        public const string IntegrityKeyInvalid = "store.integrity_key_invalid";
    }

    /// <summary>
    /// Codes for rejected attestation evidence. Every one is raised with <see cref="BrokerFailure.Unauthenticated"/>.
    /// </summary>
    public static class Attestation
    {
            /// <summary>No bearer token in the evidence.</summary>
            public const string TokenMissing = "token.missing";

            /// <summary>Longer than <c>JwtSvidOptions.MaxTokenLength</c>; nothing was parsed.</summary>
            public const string TooLarge = "token.too_large";

            /// <summary>Five segments: a JWE. Refused before any parser or library sees it (CVE-2024-21319).</summary>
            public const string JweRefused = "token.jwe_refused";

            /// <summary>
            /// Not JWS compact serialization: wrong segment count, bad base64url, not JSON objects, duplicate members,
            /// or header or payload not strictly valid UTF-8 (invalid or overlong bytes, escaped lone surrogates).
            /// </summary>
            public const string Malformed = "token.malformed";

            /// <summary><c>alg</c> missing or not one of RS/ES/PS 256/384/512 (so never <c>none</c> or HS*).</summary>
            public const string AlgNotAllowed = "token.alg_not_allowed";

            /// <summary>A header other than <c>alg</c>, <c>kid</c>, <c>typ</c> (including <c>crit</c>, <c>jku</c>, <c>x5u</c>, <c>b64</c>).</summary>
            public const string HeaderNotAllowed = "token.header_not_allowed";

            /// <summary><c>typ</c> present and not exactly <c>JWT</c> or <c>JOSE</c>.</summary>
            public const string TypNotAllowed = "token.typ_not_allowed";

            /// <summary>No <c>kid</c> header (required by this broker; bundle keys always carry one).</summary>
            public const string KidMissing = "token.kid_missing";

            /// <summary>
            /// <c>sub</c> missing or not a string; for a JWT-SVID not a strictly valid workload SPIFFE ID, for an OIDC
            /// token empty, longer than 1024 characters or containing control characters.
            /// </summary>
            public const string SubInvalid = "token.sub_invalid";

            /// <summary>No trust bundle is configured for the SVID's trust domain.</summary>
            public const string TrustDomainUnknown = "token.trust_domain_unknown";

            /// <summary>
            /// The keys of the token's trust domain (bundle endpoint) or OIDC issuer (JWKS) have never been fetched
            /// successfully: its tokens are refused until they are (fail closed).
            /// </summary>
            public const string BundleUnavailable = "token.bundle_unavailable";

            /// <summary>The trust domain's bundle (or the issuer's JWKS) holds no usable signing key: every token of it is invalid.</summary>
            public const string BundleEmpty = "token.bundle_empty";

            /// <summary>The <c>kid</c> names no key of the SVID's own trust domain bundle (or the issuer's JWKS), also after the rate-limited refresh.</summary>
            public const string KidUnknown = "token.kid_unknown";

            /// <summary>The key found by <c>kid</c> cannot verify <c>alg</c> (key type, curve or JWK <c>alg</c> differs).</summary>
            public const string KeyMismatch = "token.key_mismatch";

            /// <summary>The signature does not verify.</summary>
            public const string SignatureInvalid = "token.signature_invalid";

            /// <summary>No <c>exp</c> claim.</summary>
            public const string ExpMissing = "token.exp_missing";

            /// <summary>A registered claim has the wrong JSON type or an out-of-range value.</summary>
            public const string ClaimInvalid = "token.claim_invalid";

            /// <summary><c>exp</c> is in the past (beyond the leeway).</summary>
            public const string Expired = "token.expired";

            /// <summary><c>nbf</c> or <c>iat</c> is in the future (beyond the leeway).</summary>
            public const string NotYetValid = "token.not_yet_valid";

            /// <summary>Issued longer ago than <c>JwtSvidOptions.MaxTokenAge</c>, or, without <c>iat</c>, valid for longer than it.</summary>
            public const string TooOld = "token.too_old";

            /// <summary>No <c>aud</c> claim, or an empty one.</summary>
            public const string AudienceMissing = "token.audience_missing";

            /// <summary><c>aud</c> does not contain this broker's audience.</summary>
            public const string AudienceMismatch = "token.audience_mismatch";

            /// <summary>OIDC: <c>iss</c> missing, not a string, or not exactly one of the configured issuers.</summary>
            public const string IssuerUnknown = "token.issuer_unknown";

            /// <summary>OIDC: <c>sub</c> matches none of the issuer's configured subject patterns.</summary>
            public const string SubNotAllowed = "token.sub_not_allowed";

            /// <summary>Both a bearer token and a client certificate were presented: the broker does not guess which one speaks for the caller.</summary>
            public const string EvidenceAmbiguous = "evidence.ambiguous";

            /// <summary>mTLS: no client certificate was presented.</summary>
            public const string CertificateMissing = "x509.certificate_missing";

            /// <summary>mTLS: the certificate or its extensions cannot be parsed (for example two SAN extensions).</summary>
            public const string CertificateMalformed = "x509.malformed";

            /// <summary>mTLS: the leaf does not carry exactly one URI SAN (X509-SVID §2).</summary>
            public const string UriSanInvalid = "x509.uri_san_invalid";

            /// <summary>mTLS: the URI SAN is not a strictly valid SPIFFE ID with a non-root path (X509-SVID §3.1, §5.2).</summary>
            public const string SpiffeIdInvalid = "x509.spiffe_id_invalid";

            /// <summary>mTLS: no X.509 bundle is configured for the leaf's trust domain.</summary>
            public const string X509TrustDomainUnknown = "x509.trust_domain_unknown";

            /// <summary>mTLS: the leaf's validity period ended (beyond the leeway).</summary>
            public const string CertificateExpired = "x509.expired";

            /// <summary>mTLS: the leaf's validity period has not begun (beyond the leeway).</summary>
            public const string CertificateNotYetValid = "x509.not_yet_valid";

            /// <summary>mTLS: the chain does not build to a CA certificate of the bundle of the leaf's own trust domain.</summary>
            public const string CertificateUntrusted = "x509.untrusted";

            /// <summary>mTLS: the leaf is a CA certificate (basicConstraints cA true), so it may not authenticate (X509-SVID §4.1, §5.2).</summary>
            public const string LeafIsCa = "x509.leaf_is_ca";

            /// <summary>mTLS: key usage lacks digitalSignature, sets keyCertSign/cRLSign, or extended key usage excludes clientAuth (X509-SVID §4.3, §4.4).</summary>
            public const string KeyUsageInvalid = "x509.key_usage_invalid";
    }

    /// <summary>Codes raised by the audit log.</summary>
    public static class Audit
    {
            /// <summary>The event could not be made durable; the broker fails closed (refuses to issue).</summary>
            public const string Unavailable = "audit.unavailable";

            /// <summary>The caller passed an event the log will not record (empty or reserved type).</summary>
            public const string EventInvalid = "audit.event_invalid";

            /// <summary>The stored log does not end in a record the writer can continue from.</summary>
            public const string TailInvalid = "audit.tail_invalid";
    }

    /// <summary>Codes raised by the signing key provider and the built-in JWT issuer.</summary>
    public static class Issuance
    {
            /// <summary>Signing key options are missing or contradictory.</summary>
            public const string SigningKeyOptionsInvalid = "signing_key.options_invalid";

            /// <summary>A key file could not be read, or its content is not a usable PEM.</summary>
            public const string SigningKeyUnreadable = "signing_key.unreadable";

            /// <summary>A private key file is readable or writable by group or other.</summary>
            public const string SigningKeyInsecurePermissions = "signing_key.insecure_permissions";

            /// <summary>The key does not fit the signing algorithm: not EC P-256 for ES256 (RSA, P-384, …), not RSA of 2048–8192 bits for RS256/PS256.</summary>
            public const string SigningKeyUnsupported = "signing_key.unsupported";

            /// <summary>Issuer options are missing or invalid.</summary>
            public const string JwtOptionsInvalid = "jwt.options_invalid";

            /// <summary>The grant cannot be expressed as a task JWT (no audience, a scope token with spaces, …).</summary>
            public const string JwtGrantInvalid = "jwt.grant_invalid";
    }

    /// <summary>Codes raised by the Vault issuers.</summary>
    public static class Vault
    {
            /// <summary>Vault is down, sealed, a standby, rate limiting or timing out: retry later (UNAVAILABLE).</summary>
            public const string Unavailable = "vault.unavailable";
            /// <summary>Vault refused the broker's token on a path: the operator must fix the broker's Vault policy.</summary>
            public const string PermissionDenied = "vault.permission_denied";
            /// <summary>The broker could not log in to Vault (credentials, role, files).</summary>
            public const string LoginFailed = "vault.login_failed";
            /// <summary>Vault rejected the request (bad token role, bad parameters, path not found).</summary>
            public const string RequestRejected = "vault.request_rejected";
            /// <summary>The credential template's Vault parameters are missing or malformed.</summary>
            public const string TemplateInvalid = "vault.template_invalid";
            /// <summary>The template's secret path is not under an allowed prefix.</summary>
            public const string PathNotAllowed = "vault.path_not_allowed";
            /// <summary>The path returned a secret without a lease: the broker could not revoke it, so it is not handed out.</summary>
            public const string SecretNotLeased = "vault.secret_not_leased";
            /// <summary>Vault created a token without an accessor (a batch token): it cannot be revoked, so it is not handed out.</summary>
            public const string TokenNotRevocable = "vault.token_not_revocable";
            /// <summary>The credential cannot be renewed (not renewable, expired or unknown at Vault).</summary>
            public const string NotRenewable = "vault.not_renewable";
            /// <summary>Vault answered something the client does not understand.</summary>
            public const string UnexpectedResponse = "vault.unexpected_response";
            /// <summary>
            /// The lease's backend handle is not one the broker issued (its MAC failed, the Vault lease id is outside the
            /// allowed prefixes, or the token's metadata does not name the broker and this lease): never acted on.
            /// </summary>
            public const string HandleNotIssued = "vault.handle_not_issued";
    }

    /// <summary>Codes of the Shared Signals transmitter (docs/ssf.md).</summary>
    public static class Ssf
    {
        /// <summary>The caller attested but is no configured receiver.</summary>
        public const string NotAReceiver = "ssf.not_a_receiver";
        /// <summary>A stream asked for an audience its receiver may not hear about.</summary>
        public const string AudienceNotAllowed = "ssf.audience_not_allowed";
        /// <summary>The stream request is malformed: not a JSON object, a wrong type, an unknown delivery method, a bad endpoint URL.</summary>
        public const string RequestInvalid = "ssf.request_invalid";
        /// <summary>The delivery URL is outside the receiver's configured endpoint prefixes.</summary>
        public const string EndpointNotAllowed = "ssf.endpoint_not_allowed";
        /// <summary>No stream with that id belongs to the caller.</summary>
        public const string StreamNotFound = "ssf.stream_not_found";
        /// <summary>The receiver already has as many streams as it may.</summary>
        public const string TooManyStreams = "ssf.too_many_streams";
        /// <summary>The outbox (Redis) could not be reached; nothing was changed.</summary>
        public const string Unavailable = "ssf.unavailable";
    }
}
