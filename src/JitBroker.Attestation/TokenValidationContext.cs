using System.Buffers;
using System.Text.Json;
using JitBroker.Core;

namespace JitBroker.Attestation;

/// <summary>
/// State carried through the validation steps of one bearer token (JWT-SVID or OIDC). Each step reads
/// what earlier steps established and adds its own result; nothing here outlives the request.
/// </summary>
internal sealed class TokenValidationContext(ReadOnlyMemory<char> token, DateTimeOffset now) : IDisposable
{
    public ReadOnlyMemory<char> Token { get; } = token;

    public DateTimeOffset Now { get; } = now;

    /// <summary>Audiences that replace the attestor's configured one for this call (<see cref="AttestationEvidence.Audiences"/>), or null.</summary>
    public IReadOnlyList<string>? AudienceOverride { get; init; }

    public JsonDocument? Header { get; set; }

    public JsonDocument? Payload { get; set; }

    /// <summary>ASCII bytes of <c>header.payload</c>, what the signature covers (RFC 7515 §5.2 step 8).</summary>
    /// <remarks>In <see cref="RentBuffer"/>'s buffer: read it only while the context is not disposed.</remarks>
    public ReadOnlyMemory<byte> SigningInput { get; set; }

    /// <summary>The decoded JWS signature, in <see cref="RentBuffer"/>'s buffer like <see cref="SigningInput"/>.</summary>
    public ReadOnlyMemory<byte> Signature { get; set; }

    public JwsAlgorithm? Algorithm { get; set; }

    public string? KeyId { get; set; }

    /// <summary>The JWT-SVID's SPIFFE ID (JWT-SVID only).</summary>
    public SpiffeId? SpiffeSubject { get; set; }

    /// <summary>The <c>sub</c> string <see cref="SpiffeSubject"/> was parsed from, which is its canonical form (JWT-SVID only).</summary>
    public string? SpiffeSubjectText { get; set; }

    /// <summary>The OIDC token's <c>sub</c> (OIDC only).</summary>
    public string? OidcSubject { get; set; }

    /// <summary>Where the verification keys come from: chosen by configuration from the trust domain or issuer, never by the token.</summary>
    public IKeySource? KeySource { get; set; }

    /// <summary>The key snapshot <see cref="Key"/> was taken from: a cached answer stays valid only while its source still serves this very snapshot.</summary>
    public TrustBundle? Bundle { get; set; }

    public BundleKey? Key { get; set; }

    /// <summary>The verified time claims (set by <see cref="LifetimeStep"/>).</summary>
    public TokenLifetime? Lifetime { get; set; }

    public DateTimeOffset ExpiresAt => (Lifetime ?? throw new InvalidOperationException("The lifetime has not been checked.")).Expires;

    public string? Issuer { get; set; }

    public string? TokenId { get; set; }

    /// <summary>Verified claims reported as facts beyond the attestor's standard ones (Kubernetes claims).</summary>
    /// <remarks>Made on first use: only OIDC tokens have any, and a JWT-SVID's context need not carry an empty dictionary.</remarks>
    public Dictionary<string, string> ExtraFacts => _extraFacts ??= new(StringComparer.Ordinal);

    private Dictionary<string, string>? _extraFacts;

    private byte[]? _rented;

    public JsonElement HeaderRoot => (Header ?? throw new InvalidOperationException("The header has not been parsed.")).RootElement;

    public JsonElement Claims => (Payload ?? throw new InvalidOperationException("The payload has not been parsed.")).RootElement;

    /// <summary>
    /// A pooled buffer of at least <paramref name="length"/> bytes for this token's decoded bytes (the parsed documents
    /// read from it), owned by the context: once per context, returned cleared — it held a bearer token — on dispose.
    /// </summary>
    public byte[] RentBuffer(int length)
    {
        if (_rented is not null)
        {
            throw new InvalidOperationException("The context already owns a buffer.");
        }

        return _rented = ArrayPool<byte>.Shared.Rent(length);
    }

    public void Dispose()
    {
        // The documents first: they read from the rented buffer.
        Header?.Dispose();
        Payload?.Dispose();
        if (_rented is { } rented)
        {
            _rented = null;
            ArrayPool<byte>.Shared.Return(rented, clearArray: true);
        }
    }

    /// <summary>The one way a step fails: Unauthenticated, a stable reason, a message safe for the caller.</summary>
    public static BrokerException Reject(string reason, string message) =>
        new(BrokerFailure.Unauthenticated, reason, message);
}

/// <summary>One check on an incoming token. Steps run in a fixed order; the first failure ends validation.</summary>
internal interface ITokenValidationStep
{
    /// <summary>Checks its part of <paramref name="context"/>; throws a rejection from <see cref="TokenValidationContext.Reject"/>.</summary>
    ValueTask ValidateAsync(TokenValidationContext context, CancellationToken cancellationToken = default);
}

/// <summary>A step that needs no I/O: almost all of them. Only key selection may wait (for a rate-limited key refresh).</summary>
internal abstract class SyncTokenValidationStep : ITokenValidationStep
{
    public ValueTask ValidateAsync(TokenValidationContext context, CancellationToken cancellationToken = default)
    {
        Validate(context);
        return ValueTask.CompletedTask;
    }

    public abstract void Validate(TokenValidationContext context);
}

/// <summary>Runs steps in order.</summary>
internal static class TokenValidation
{
    // An array, not IEnumerable: foreach over an interface would box an enumerator for every token.
    public static async ValueTask RunAsync(ITokenValidationStep[] steps, TokenValidationContext context, CancellationToken cancellationToken = default)
    {
        foreach (var step in steps)
        {
            await step.ValidateAsync(context, cancellationToken).ConfigureAwait(false);
        }
    }
}
