using System.Collections.Immutable;
using JitBroker.Core;
using Microsoft.Extensions.Logging;

namespace JitBroker.Attestation;

/// <summary>
/// Attests workloads by SPIFFE JWT-SVID (method <c>jwt-svid</c>), verified against the SPIFFE bundle
/// configured for the SVID's trust domain: a file (reloaded when it changes) or a bundle endpoint URL
/// (refreshed in the background). Reports facts only: the SPIFFE ID, its trust domain and path (never the
/// token's own <c>iss</c>, which is not an attested issuer); whether the workload may do anything is policy's decision. Every failure
/// is a <see cref="BrokerException"/> with <see cref="BrokerFailure.Unauthenticated"/> and a reason from
/// <see cref="Reasons.Attestation"/>. Thread-safe; bundle keys are parsed once per load. Dispose to stop
/// background refreshes.
/// </summary>
public sealed class JwtSvidAttestor : IWorkloadAttestor, IDisposable
{
    public const string MethodName = "jwt-svid";

    /// <summary>The facts every JWT-SVID identity reports, in this order.</summary>
    private static readonly ImmutableArray<string> FactNames = ["spiffe_id", AgentFacts.TrustDomainKey, "path"];

    private readonly TimeProvider _time;
    private readonly ILogger<JwtSvidAttestor> _log;
    private readonly int _maxTokenLength;
    private readonly ITokenValidationStep[] _steps;
    private readonly VerifiedTokenCache? _cache;

    /// <summary>
    /// Validates <paramref name="options"/>, loads every bundle file and starts fetching every bundle URL
    /// (in the background: the constructor does not wait for the network). Throws
    /// <see cref="InvalidOperationException"/> (naming the option or file) when either is unusable.
    /// <paramref name="httpHandler"/> replaces the HTTP stack for bundle URLs (tests); it is not disposed.
    /// </summary>
    public JwtSvidAttestor(JwtSvidOptions options, TimeProvider time, ILogger<JwtSvidAttestor> log, HttpMessageHandler? httpHandler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Invalid JWT-SVID attestation options: " + string.Join(" ", problems));
        }

        _time = time;
        _log = log;
        _maxTokenLength = options.MaxTokenLength;
        var sources = new Dictionary<string, IKeySource>(StringComparer.Ordinal);
        foreach (var (trustDomain, path) in options.TrustBundles)
        {
            sources[trustDomain] = new FileKeySource(trustDomain, Owner(trustDomain), path, KeySetProfile.SpiffeBundle, time, log);
        }

        foreach (var (trustDomain, url) in options.TrustBundleUrls)
        {
            KeySetHttp.Problem(url, options.AllowInsecureHttp, out var uri);
            #pragma warning disable CA2000 // owned by the fetcher, which the key source disposes with the attestor
            var client = KeySetHttp.CreateClient(httpHandler, caCertificatesPath: null, options.Refresh.FetchTimeout);
            #pragma warning restore CA2000
            sources[trustDomain] = new RefreshingKeySource(Owner(trustDomain), new SpiffeBundleFetcher(trustDomain, uri!, client), options.Refresh, time, log);
        }

        KeySources = sources;
        _cache = VerifiedTokenCache.Create(MethodName, options.VerifiedTokenCache, options.MaxTokenLength, options.Leeway, options.MaxTokenAge, time, log);

        // The order is the contract: shape before content, identity before key, key before signature, and
        // nothing about a token's claims is reported before its signature has verified.
        _steps =
        [
            new CompactSerializationStep(options.MaxTokenLength),
            new HeaderStep(),
            new SubjectStep(),
            new TrustDomainStep(sources),
            new KeySelectionStep(),
            new SignatureStep(),
            new LifetimeStep(options.Leeway, options.MaxTokenAge),
            new AudienceStep(options.Audience),
            new OptionalClaimsStep(),
        ];
    }

    public string Method => MethodName;

    /// <summary>The key source of each trust domain (tests await and count background fetches through it).</summary>
    internal IReadOnlyDictionary<string, IKeySource> KeySources { get; }

    /// <summary>The verified-token cache, or null when it is turned off (tests and metrics read its counters).</summary>
    internal VerifiedTokenCache? TokenCache => _cache;

    /// <summary>
    /// ROUTING ONLY: a bearer token shaped like a JWS compact token whose unverified <c>sub</c> starts with
    /// <c>spiffe:</c> (any case, so a malformed SPIFFE ID still gets this attestor's precise refusal). No
    /// signature is checked here; a JWE (five segments) is not accepted.
    /// </summary>
    public bool Accepts(AttestationEvidence evidence) =>
        UnverifiedPeek.SubjectHasSpiffeScheme(evidence.BearerTokenMemory.Span, _maxTokenLength);

    public async ValueTask<WorkloadIdentity> AttestAsync(AttestationEvidence evidence, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var token = evidence.BearerTokenMemory;
        if (token.IsEmpty)
        {
            throw TokenValidationContext.Reject(Reasons.Attestation.TokenMissing, "No JWT-SVID presented: send 'authorization: Bearer <JWT-SVID>'.");
        }

        if (evidence.ClientCertificate is not null)
        {
            throw TokenValidationContext.Reject(Reasons.Attestation.EvidenceAmbiguous,
                "Both a bearer token and a client certificate were presented; present exactly one identity.");
        }

        VerifiedTokenCache.Key? cacheKey = null;
        if (_cache?.TryGet(token.Span, evidence.Audiences, out cacheKey) is { } cached)
        {
            AttestationLog.TokenCacheHit(_log, MethodName, cached.EvidenceFingerprint, cached.Id);
            return cached;
        }

        using var context = new TokenValidationContext(token, _time.GetUtcNow()) { AudienceOverride = evidence.Audiences };
        try
        {
            await TokenValidation.RunAsync(_steps, context, cancellationToken).ConfigureAwait(false);
        }
        catch (BrokerException rejected)
        {
            // Never hash an oversized token: that would be work an attacker chooses the size of.
            var fingerprint = rejected.Reason == Reasons.Attestation.TooLarge ? "-" : Fingerprints.Of(token.Span);
            AttestationLog.SvidRejected(_log, fingerprint, rejected.Reason, context.SpiffeSubject?.TrustDomain);
            throw;
        }

        var identity = ToIdentity(context, cacheKey?.Fingerprint() ?? Fingerprints.Of(token.Span));
        if (cacheKey is { } key)
        {
            _cache!.Add(key, identity, context);
        }

        return identity;
    }

    public void Dispose()
    {
        foreach (var source in KeySources.Values)
        {
            source.Dispose();
        }
    }

    private static string Owner(string trustDomain) => $"trust domain '{trustDomain}'";

    private WorkloadIdentity ToIdentity(TokenValidationContext context, string fingerprint)
    {
        var subject = context.SpiffeSubject!.Value;
        var spiffeId = context.SpiffeSubjectText!;
        var facts = new FixedFactDictionary(FactNames, spiffeId, subject.TrustDomain, subject.Path);
        // No 'iss' fact: a JWT-SVID's iss is whatever the SPIRE server of its trust domain wrote — any trusted (e.g.
        // federated) domain could claim an OIDC issuer's URL there. 'iss' is a fact only where the OIDC attestor
        // verified the token against that issuer (issue 17).
        AttestationLog.SvidAccepted(_log, fingerprint, spiffeId, context.KeyId!, context.Algorithm!.Name);
        return new WorkloadIdentity
        {
            Id = spiffeId,
            TrustDomain = subject.TrustDomain,
            Method = MethodName,
            Facts = facts, // read-only: the identity may be served from the cache to many requests
            EvidenceExpiresAt = context.ExpiresAt,
            EvidenceId = context.TokenId,
            EvidenceFingerprint = fingerprint,

            // A JWT-SVID's iss is optional; without it the trust domain itself is the issuing authority.
            ReplayKey = context.Issuer is { } issuer
                ? ReplayKeys.For(issuer, context.TokenId, context.SigningInput.Span)
                : ReplayKeys.ForTrustDomain(subject.TrustDomain, context.TokenId, context.SigningInput.Span),
        };
    }
}
