using System.Buffers;
using JitBroker.Core;
using Microsoft.Extensions.Logging;

namespace JitBroker.Attestation;

/// <summary>
/// Attests workloads by SPIFFE JWT-SVID (method <c>jwt-svid</c>), verified against the SPIFFE bundle
/// configured for the SVID's trust domain. Reports facts only: the SPIFFE ID, its trust domain and path,
/// and the token's issuer when present; whether the workload may do anything is policy's decision.
/// Every failure is a <see cref="BrokerException"/> with <see cref="BrokerFailure.Unauthenticated"/> and
/// a reason from <see cref="AttestationReasons"/>. Thread-safe; bundle keys are parsed once per load.
/// </summary>
public sealed class JwtSvidAttestor : IWorkloadAttestor
{
    public const string MethodName = "jwt-svid";

    private static readonly SearchValues<char> CompactChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.");

    private readonly TimeProvider _time;
    private readonly ILogger<JwtSvidAttestor> _log;
    private readonly IJwtSvidValidationStep[] _steps;

    /// <summary>
    /// Validates <paramref name="options"/> and loads every trust bundle. Throws
    /// <see cref="InvalidOperationException"/> (naming the option or file) when either is unusable.
    /// </summary>
    public JwtSvidAttestor(JwtSvidOptions options, TimeProvider time, ILogger<JwtSvidAttestor> log)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Invalid JWT-SVID attestation options: " + string.Join(" ", problems));
        }

        _time = time;
        _log = log;
        var bundles = options.TrustBundles.ToDictionary(
            pair => pair.Key,
            pair => new TrustBundleSource(pair.Key, pair.Value, time, log),
            StringComparer.Ordinal);

        // The order is the contract: shape before content, identity before key, key before signature, and
        // nothing about a token's claims is reported before its signature has verified.
        _steps =
        [
            new CompactSerializationStep(options.MaxTokenLength),
            new HeaderStep(),
            new SubjectStep(),
            new KeySelectionStep(bundles),
            new SignatureStep(),
            new LifetimeStep(options.Leeway, options.MaxTokenAge),
            new AudienceStep(options.Audience),
            new OptionalClaimsStep(),
        ];
    }

    public string Method => MethodName;

    /// <summary>
    /// A bearer token shaped like a JWS compact token: base64url characters in exactly three segments. No
    /// decoding, no crypto; a JWE (five segments) is not accepted for routing either.
    /// </summary>
    public bool Accepts(AttestationEvidence evidence)
    {
        var token = evidence.BearerToken.AsSpan();
        return token.Length > 0 && token.Count('.') == 2 && token.IndexOfAnyExcept(CompactChars) < 0;
    }

    public ValueTask<WorkloadIdentity> AttestAsync(AttestationEvidence evidence, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var token = evidence.BearerToken;
        if (string.IsNullOrEmpty(token))
        {
            throw JwtSvidValidationContext.Reject(AttestationReasons.TokenMissing, "No JWT-SVID presented: send 'authorization: Bearer <JWT-SVID>'.");
        }

        using var context = new JwtSvidValidationContext(token, _time.GetUtcNow());
        try
        {
            foreach (var step in _steps)
            {
                step.Validate(context);
            }
        }
        catch (BrokerException rejected)
        {
            // Never hash an oversized token: that would be work an attacker chooses the size of.
            var fingerprint = rejected.Reason == AttestationReasons.TooLarge ? "-" : Fingerprints.Of(token);
            AttestationLog.SvidRejected(_log, fingerprint, rejected.Reason, context.Subject?.TrustDomain);
            throw;
        }

        return ValueTask.FromResult(ToIdentity(context));
    }

    private WorkloadIdentity ToIdentity(JwtSvidValidationContext context)
    {
        var subject = context.Subject!.Value;
        var spiffeId = subject.ToString();
        var facts = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["spiffe_id"] = spiffeId,
            ["trust_domain"] = subject.TrustDomain,
            ["path"] = subject.Path,
        };
        if (context.Issuer is not null)
        {
            facts["iss"] = context.Issuer;
        }

        var fingerprint = Fingerprints.Of(context.Token);
        AttestationLog.SvidAccepted(_log, fingerprint, spiffeId, context.KeyId!, context.Algorithm!.Name);
        return new WorkloadIdentity
        {
            Id = spiffeId,
            TrustDomain = subject.TrustDomain,
            Method = MethodName,
            Facts = facts,
            EvidenceExpiresAt = context.ExpiresAt,
            EvidenceId = context.TokenId,
            EvidenceFingerprint = fingerprint,
        };
    }
}
