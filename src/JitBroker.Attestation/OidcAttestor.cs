using System.Text.Json;
using JitBroker.Core;
using Microsoft.Extensions.Logging;

namespace JitBroker.Attestation;

/// <summary>
/// Attests workloads by OIDC token (method <c>oidc</c>): Kubernetes projected service account tokens and
/// CI job tokens from configured issuers. The token's <c>iss</c> must be exactly a configured issuer; its
/// keys come from that issuer's discovery document / JWKS (fetched in the background, refreshed, with a
/// rate-limited refresh on an unknown <c>kid</c>) or a static JWKS file. The same token rules as for
/// JWT-SVIDs apply (RS/ES/PS only, JWE refused before parsing, strict header, <c>exp</c> required, leeway,
/// maximum age, size limit), plus the issuer's audience and subject patterns.
/// Identity: <c>Id</c> = <c>&lt;iss&gt;#&lt;sub&gt;</c>, <c>TrustDomain</c> = <c>iss</c>; facts <c>iss</c>,
/// <c>sub</c> and, for Kubernetes tokens, <c>k8s.namespace</c>, <c>k8s.service_account</c>,
/// <c>k8s.service_account_uid</c>, <c>k8s.pod</c>, <c>k8s.pod_uid</c>. Dispose to stop background refreshes.
/// </summary>
public sealed class OidcAttestor : IWorkloadAttestor, IDisposable
{
    public const string MethodName = "oidc";

    /// <summary>Separates issuer and subject in <see cref="WorkloadIdentity.Id"/>; <c>#</c> cannot appear in an issuer URL (it has no fragment).</summary>
    public const char IdSeparator = '#';

    private readonly TimeProvider _time;
    private readonly ILogger<OidcAttestor> _log;
    private readonly int _maxTokenLength;
    private readonly CompactSerializationStep _shape;
    private readonly Dictionary<string, IssuerPipeline> _issuers = new(StringComparer.Ordinal);
    private readonly VerifiedTokenCache? _cache;

    /// <summary>
    /// Validates <paramref name="options"/>, loads static JWKS files and starts fetching the others in the
    /// background. Throws <see cref="InvalidOperationException"/> when the options are unusable.
    /// <paramref name="httpHandler"/> replaces the HTTP stack (tests); it is not disposed.
    /// </summary>
    public OidcAttestor(OidcOptions options, TimeProvider time, ILogger<OidcAttestor> log, HttpMessageHandler? httpHandler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Invalid OIDC attestation options: " + string.Join(" ", problems));
        }

        _time = time;
        _log = log;
        _maxTokenLength = options.MaxTokenLength;
        _shape = new CompactSerializationStep(options.MaxTokenLength);
        _cache = VerifiedTokenCache.Create(MethodName, options.VerifiedTokenCache, options.MaxTokenLength, options.Leeway, options.MaxTokenAge, time, log);
        foreach (var issuer in options.Issuers)
        {
            #pragma warning disable CA2000 // stored in the issuer pipeline and disposed by Dispose
            var keys = CreateKeySource(issuer, options.Refresh, httpHandler);
            #pragma warning restore CA2000
            IReadOnlySet<string>? algorithms = issuer.AllowedAlgorithms is { Count: > 0 } a ? a.ToHashSet(StringComparer.Ordinal) : null;
            IReadOnlySet<string>? tolerated = issuer.ToleratedHeaders is { Count: > 0 } h ? h.ToHashSet(StringComparer.Ordinal) : null;
            ITokenValidationStep[] steps =
            [
                new HeaderStep(algorithms, tolerated),
                new KeySelectionStep(),
                new SignatureStep(),
                new LifetimeStep(options.Leeway, options.MaxTokenAge),
                new AudienceStep(issuer.Audience),
                new OidcSubjectStep([.. (issuer.SubjectPatterns ?? []).Select(GlobPattern.Parse)]),
                new OptionalClaimsStep(),
                new KubernetesClaimsStep(),
            ];
            _issuers[issuer.Issuer] = new IssuerPipeline(keys, steps);
        }
    }

    public string Method => MethodName;

    /// <summary>The verified-token cache, or null when it is turned off (tests and metrics read its counters).</summary>
    internal VerifiedTokenCache? TokenCache => _cache;

    /// <summary>The key source of each issuer (tests await and count background fetches through it).</summary>
    internal IReadOnlyDictionary<string, IKeySource> KeySources => _issuers.ToDictionary(p => p.Key, p => p.Value.Keys, StringComparer.Ordinal);

    /// <summary>ROUTING ONLY: a JWS compact shaped bearer token whose unverified <c>iss</c> is exactly a configured issuer.</summary>
    public bool Accepts(AttestationEvidence evidence) =>
        UnverifiedPeek.TryReadIssuer(evidence.BearerTokenMemory.Span, _maxTokenLength, out var issuer)
        && issuer is not null && _issuers.ContainsKey(issuer);

    public async ValueTask<WorkloadIdentity> AttestAsync(AttestationEvidence evidence, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var token = evidence.BearerTokenMemory;
        if (token.IsEmpty)
        {
            throw TokenValidationContext.Reject(Reasons.Attestation.TokenMissing, "No OIDC token presented: send 'authorization: Bearer <token>'.");
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
        string? issuer = null;
        try
        {
            // Shape first; then the issuer picks the configuration (keys, audience, algorithms) the rest of
            // the checks use. The iss read here is not trusted yet: the signature over it is checked next.
            _shape.Validate(context);
            var pipeline = SelectIssuer(context, out issuer);
            context.KeySource = pipeline.Keys;
            await TokenValidation.RunAsync(pipeline.Steps, context, cancellationToken).ConfigureAwait(false);
        }
        catch (BrokerException rejected)
        {
            var fingerprint = rejected.Reason == Reasons.Attestation.TooLarge ? "-" : Fingerprints.Of(token.Span);
            AttestationLog.OidcRejected(_log, fingerprint, rejected.Reason, issuer);
            throw;
        }

        var identity = ToIdentity(context, issuer, cacheKey?.Fingerprint() ?? Fingerprints.Of(token.Span));
        if (cacheKey is { } key)
        {
            _cache!.Add(key, identity, context);
        }

        return identity;
    }

    public void Dispose()
    {
        foreach (var pipeline in _issuers.Values)
        {
            pipeline.Keys.Dispose();
        }
    }

    private IKeySource CreateKeySource(OidcIssuerOptions issuer, KeyRefreshOptions refresh, HttpMessageHandler? httpHandler)
    {
        var owner = $"issuer '{issuer.Issuer}'";
        if (!string.IsNullOrWhiteSpace(issuer.JwksPath))
        {
            return new FileKeySource(issuer.Issuer, owner, issuer.JwksPath, KeySetProfile.OidcJwks, _time, _log);
        }

        Uri? jwks = null, discovery = null;
        if (!string.IsNullOrWhiteSpace(issuer.JwksUrl))
        {
            KeySetHttp.Problem(issuer.JwksUrl, issuer.AllowInsecureHttp, out jwks);
        }
        else
        {
            KeySetHttp.Problem(issuer.EffectiveDiscoveryUrl(), issuer.AllowInsecureHttp, out discovery);
        }

        var client = KeySetHttp.CreateClient(httpHandler, issuer.CaCertificatesPath, refresh.FetchTimeout);
        var fetcher = new OidcJwksFetcher(issuer.Issuer, discovery, jwks, issuer.AllowInsecureHttp, issuer.BearerTokenPath, client);
        return new RefreshingKeySource(owner, fetcher, refresh, _time, _log);
    }

    private IssuerPipeline SelectIssuer(TokenValidationContext context, out string? issuer)
    {
        issuer = null;
        if (context.Claims.TryGetProperty("iss", out var iss) && iss.ValueKind == JsonValueKind.String
            && _issuers.TryGetValue(iss.GetString()!, out var pipeline))
        {
            issuer = iss.GetString();
            return pipeline;
        }

        throw TokenValidationContext.Reject(Reasons.Attestation.IssuerUnknown, "The token's 'iss' is not an issuer this broker accepts tokens from.");
    }

    private WorkloadIdentity ToIdentity(TokenValidationContext context, string? issuer, string fingerprint)
    {
        // The issuer step chose the pipeline by this exact value and the signature covered it.
        var iss = context.Issuer ?? issuer!;
        var subject = context.OidcSubject!;
        var facts = new Dictionary<string, string>(context.ExtraFacts, StringComparer.Ordinal)
        {
            ["iss"] = iss,
            ["sub"] = subject,
        };
        var id = iss + IdSeparator + subject;
        AttestationLog.OidcAccepted(_log, fingerprint, id, context.KeyId!, context.Algorithm!.Name);
        return new WorkloadIdentity
        {
            Id = id,
            TrustDomain = iss,
            Method = MethodName,
            Facts = facts.AsReadOnly(), // the identity may be served from the cache to many requests: nobody may change it
            EvidenceExpiresAt = context.ExpiresAt,
            EvidenceId = context.TokenId,
            EvidenceFingerprint = fingerprint,
            ReplayKey = ReplayKeys.For(iss, context.TokenId, context.SigningInput.Span),
        };
    }

    private sealed record IssuerPipeline(IKeySource Keys, ITokenValidationStep[] Steps);
}
