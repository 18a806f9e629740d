using JitBroker.Core;
using static JitBroker.Attestation.TokenValidationContext;

namespace JitBroker.Attestation;

/// <summary>
/// A verified token's time claims and the one place their rules are written: <see cref="LifetimeStep"/> applies
/// them when a token is verified, and <see cref="VerifiedTokenCache"/> applies them again, at that instant, on
/// every hit — so a cached answer can never outlive what the verifier would say.
/// </summary>
internal readonly record struct TokenLifetime(DateTimeOffset Expires, DateTimeOffset? NotBefore, DateTimeOffset? IssuedAt)
{
    /// <summary>The rejection the verifier would give at <paramref name="now"/>, in the verifier's order, or null.</summary>
    public BrokerException? Problem(DateTimeOffset now, TimeSpan leeway, TimeSpan maxTokenAge) =>
        ExpiryProblem(now, Expires, leeway) ?? NotBeforeProblem(now, NotBefore, leeway) ?? AgeProblem(now, Expires, IssuedAt, leeway, maxTokenAge);

    public static BrokerException? ExpiryProblem(DateTimeOffset now, DateTimeOffset exp, TimeSpan leeway) =>
        now >= exp + leeway ? Reject(Reasons.Attestation.Expired, "The token has expired.") : null;

    public static BrokerException? NotBeforeProblem(DateTimeOffset now, DateTimeOffset? nbf, TimeSpan leeway) =>
        nbf is { } notBefore && now + leeway < notBefore
            ? Reject(Reasons.Attestation.NotYetValid, "The token is not valid yet ('nbf' is in the future).")
            : null;

    public static BrokerException? AgeProblem(DateTimeOffset now, DateTimeOffset exp, DateTimeOffset? iat, TimeSpan leeway, TimeSpan maxTokenAge)
    {
        if (iat is { } issued)
        {
            if (issued > now + leeway)
            {
                return Reject(Reasons.Attestation.NotYetValid, "The token claims to be issued in the future ('iat').");
            }

            return now - issued > maxTokenAge + leeway
                ? Reject(Reasons.Attestation.TooOld, $"The token was issued more than {maxTokenAge.TotalMinutes:0.#} minutes ago; fetch a fresh token.")
                : null;
        }

        return exp - now > maxTokenAge + leeway
            ? Reject(Reasons.Attestation.TooOld, $"The token has no 'iat' and is valid for more than {maxTokenAge.TotalMinutes:0.#} minutes.")
            : null;
    }
}
