using System.Text.Json;
using JitBroker.Core;

namespace JitBroker.Attestation;

/// <summary>
/// State carried through the JWT-SVID validation steps of one request. Each step reads what earlier steps
/// established and adds its own result; nothing here outlives the request.
/// </summary>
internal sealed class JwtSvidValidationContext(string token, DateTimeOffset now) : IDisposable
{
    public string Token { get; } = token;

    public DateTimeOffset Now { get; } = now;

    public JsonDocument? Header { get; set; }

    public JsonDocument? Payload { get; set; }

    /// <summary>ASCII bytes of <c>header.payload</c>, what the signature covers (RFC 7515 §5.2 step 8).</summary>
    public byte[] SigningInput { get; set; } = [];

    public byte[] Signature { get; set; } = [];

    public JwsAlgorithm? Algorithm { get; set; }

    public string? KeyId { get; set; }

    public SpiffeId? Subject { get; set; }

    public BundleKey? Key { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public string? Issuer { get; set; }

    public string? TokenId { get; set; }

    public JsonElement HeaderRoot => (Header ?? throw new InvalidOperationException("The header has not been parsed.")).RootElement;

    public JsonElement Claims => (Payload ?? throw new InvalidOperationException("The payload has not been parsed.")).RootElement;

    public void Dispose()
    {
        Header?.Dispose();
        Payload?.Dispose();
    }

    /// <summary>The one way a step fails: Unauthenticated, a stable reason, a message safe for the caller.</summary>
    public static BrokerException Reject(string reason, string message) =>
        new(BrokerFailure.Unauthenticated, reason, message);
}

/// <summary>One check on an incoming JWT-SVID. Steps run in a fixed order; the first failure ends validation.</summary>
internal interface IJwtSvidValidationStep
{
    /// <summary>Checks its part of <paramref name="context"/>; throws a rejection from <see cref="JwtSvidValidationContext.Reject"/>.</summary>
    void Validate(JwtSvidValidationContext context);
}
