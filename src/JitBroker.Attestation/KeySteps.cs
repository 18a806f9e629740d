using static JitBroker.Attestation.JwtSvidValidationContext;

namespace JitBroker.Attestation;

/// <summary>
/// Step 4: the verification key comes from the bundle configured for the SVID's own trust domain (never
/// from anything the token says about where keys live), is a JWT-SVID key (bundle <c>use</c> filtering
/// happened at load), is found by <c>kid</c>, and can verify the token's <c>alg</c>. An empty bundle
/// refuses every SVID of its trust domain (SPIFFE bundle §4.1.3).
/// </summary>
internal sealed class KeySelectionStep(IReadOnlyDictionary<string, TrustBundleSource> bundles) : IJwtSvidValidationStep
{
    public void Validate(JwtSvidValidationContext context)
    {
        var trustDomain = context.Subject!.Value.TrustDomain;
        if (!bundles.TryGetValue(trustDomain, out var source))
        {
            throw Reject(AttestationReasons.TrustDomainUnknown, $"Trust domain '{trustDomain}' is not trusted by this broker.");
        }

        var bundle = source.Snapshot();
        if (bundle.IsEmpty)
        {
            throw Reject(AttestationReasons.BundleEmpty, $"The trust bundle of '{trustDomain}' holds no JWT-SVID keys; its SVIDs are not accepted.");
        }

        if (!bundle.Keys.TryGetValue(context.KeyId!, out var key))
        {
            throw Reject(AttestationReasons.KidUnknown, $"The token's 'kid' names no JWT-SVID key of trust domain '{trustDomain}'.");
        }

        var mismatch = key.MismatchWith(context.Algorithm!);
        if (mismatch is not null)
        {
            throw Reject(AttestationReasons.KeyMismatch, $"The token's key cannot verify its 'alg': {mismatch}.");
        }

        context.Key = key;
    }
}

/// <summary>Step 5: the JWS signature verifies over <c>header.payload</c> with the selected key.</summary>
internal sealed class SignatureStep : IJwtSvidValidationStep
{
    public void Validate(JwtSvidValidationContext context)
    {
        if (!context.Key!.Verify(context.Algorithm!, context.SigningInput, context.Signature))
        {
            throw Reject(AttestationReasons.SignatureInvalid, "The token signature does not verify.");
        }
    }
}
