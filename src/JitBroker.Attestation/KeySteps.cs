using JitBroker.Core;
using static JitBroker.Attestation.TokenValidationContext;

namespace JitBroker.Attestation;

/// <summary>
/// Step 4a (JWT-SVID): the keys are those configured for the SVID's own trust domain, never anything the
/// token says about where keys live.
/// </summary>
internal sealed class TrustDomainStep(IReadOnlyDictionary<string, IKeySource> sources) : SyncTokenValidationStep
{
    public override void Validate(TokenValidationContext context)
    {
        var trustDomain = context.SpiffeSubject!.Value.TrustDomain;
        context.KeySource = sources.TryGetValue(trustDomain, out var source)
            ? source
            : throw Reject(Reasons.Attestation.TrustDomainUnknown, $"Trust domain '{trustDomain}' is not trusted by this broker.");
    }
}

/// <summary>
/// Step 4b: the verification key is found by <c>kid</c> in the key source chosen by configuration (bundle
/// <c>use</c> filtering happened at load) and can verify the token's <c>alg</c>. A <c>kid</c> the current
/// keys lack may trigger the source's rate-limited refresh (key rotation at the issuer). Keys never
/// fetched refuse every token (fail closed); an empty bundle refuses every SVID of its trust domain
/// (SPIFFE bundle §4.1.3).
/// </summary>
internal sealed class KeySelectionStep : ITokenValidationStep
{
    public async ValueTask ValidateAsync(TokenValidationContext context, CancellationToken cancellationToken = default)
    {
        var source = context.KeySource!;
        var keyId = context.KeyId!;
        var bundle = source.Current;
        if (bundle is null || !bundle.Keys.ContainsKey(keyId))
        {
            bundle = await source.RefreshForUnknownKeyAsync(cancellationToken).ConfigureAwait(false) ?? bundle;
        }

        if (bundle is null)
        {
            throw Reject(Reasons.Attestation.BundleUnavailable, $"The keys of {source.Owner} could not be fetched yet; its tokens are not accepted until they are.");
        }

        if (bundle.IsEmpty)
        {
            throw Reject(Reasons.Attestation.BundleEmpty, $"The keys of {source.Owner} hold no usable signing key; its tokens are not accepted.");
        }

        if (!bundle.Keys.TryGetValue(keyId, out var key))
        {
            throw Reject(Reasons.Attestation.KidUnknown, $"The token's 'kid' names no signing key of {source.Owner}.");
        }

        var mismatch = key.MismatchWith(context.Algorithm!);
        if (mismatch is not null)
        {
            throw Reject(Reasons.Attestation.KeyMismatch, $"The token's key cannot verify its 'alg': {mismatch}.");
        }

        context.Bundle = bundle;
        context.Key = key;
    }
}

/// <summary>Step 5: the JWS signature verifies over <c>header.payload</c> with the selected key.</summary>
internal sealed class SignatureStep : SyncTokenValidationStep
{
    public override void Validate(TokenValidationContext context)
    {
        if (!context.Key!.Verify(context.Algorithm!, context.SigningInput.Span, context.Signature.Span))
        {
            throw Reject(Reasons.Attestation.SignatureInvalid, "The token signature does not verify.");
        }
    }
}
