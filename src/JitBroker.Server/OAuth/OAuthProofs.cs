using JitBroker.Core;
using JitBroker.OAuth;

namespace JitBroker.Server.OAuth;

/// <summary>
/// DPoP at the door (RFC 9449 §4.3, §5): a request carrying a proof gets its key's thumbprint checked against the URL it
/// was addressed to — the configured public URL, never one rebuilt from the Host header — and bound into the token as
/// <c>cnf.jkt</c>. Proof <c>jti</c>s are remembered in the broker's replay cache (Redis in production, so a proof used on
/// one replica is refused on every other).
/// </summary>
internal sealed class OAuthProofs(DpopProofValidator validator, OAuthUrls urls)
{
    /// <summary>The proof key's RFC 7638 thumbprint, or null when the request carries no proof.</summary>
    public async Task<string?> KeyThumbprintAsync(HttpContext http, string endpointPath, string? accessToken, CancellationToken cancellationToken = default)
    {
        if (OAuthRequestReader.DpopProof(http) is not { } proof)
        {
            return null;
        }

        var target = urls.EndpointFor(endpointPath, arrivedOverMtls: http.Connection.ClientCertificate is not null);
        var validated = await validator.ValidateAsync(proof, new DpopRequest(http.Request.Method, target, accessToken), cancellationToken).ConfigureAwait(false);
        return validated.KeyThumbprint;
    }
}

/// <summary>DPoP proof ids in the broker's replay cache: one use each, kept until the proof could no longer be accepted.</summary>
internal sealed class DpopReplayStore(IReplayCache cache) : IDpopReplayStore
{
    public async ValueTask<bool> TryRecordAsync(string key, DateTimeOffset keepUntil, CancellationToken cancellationToken = default) =>
        await cache.CheckAndRecordAsync(key, "dpop", keepUntil, cancellationToken).ConfigureAwait(false) == ReplayVerdict.FirstUse;
}
