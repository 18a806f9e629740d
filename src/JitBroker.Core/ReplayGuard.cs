using System.Runtime.CompilerServices;

namespace JitBroker.Core;

/// <summary>
/// Step 2 of the request path: a captured identity token must not buy a second credential. The replay
/// cache remembers each token (by its replay key) until it expires plus slack.
/// </summary>
public sealed class ReplayGuard
{

    private readonly IReplayCache _cache;
    private readonly BrokerOptions _options;
    private readonly TimeProvider _time;

    public ReplayGuard(IReplayCache cache, BrokerOptions options, TimeProvider time)
    {
        _cache = cache;
        _options = options;
        _time = time;
    }

    /// <summary>
    /// Strict one-time use whatever <see cref="BrokerOptions.ReplayMode"/> says (the admin API): the token is recorded
    /// and any earlier presentation of it, for anything, is a replay. Unauthenticated on a replay.
    /// </summary>
    public ValueTask CheckSingleUseAsync(WorkloadIdentity caller, CancellationToken cancellationToken = default) =>
        // A binding no other use can share: even a same-request retry in Bound mode counts as a second use.
        CheckAsync(caller, "single-use:" + Guid.NewGuid().ToString("N"), ReplayMode.Strict, cancellationToken);

    /// <summary>Records the token's use for <paramref name="binding"/> (see <see cref="RequestHash.ForTask"/>); throws Unauthenticated on a replay.</summary>
    public ValueTask CheckAsync(WorkloadIdentity agent, string binding, CancellationToken cancellationToken = default) =>
        CheckAsync(agent, binding, _options.ReplayMode, cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask CheckAsync(WorkloadIdentity agent, string binding, ReplayMode mode, CancellationToken cancellationToken)
    {
        if (agent.ReplayKey is not { } key)
        {
            return; // mTLS: the TLS handshake itself proves possession; there is no bearer token to replay
        }

        // Tokens without exp cannot reach here (attestors require it); the fallback bounds memory anyway.
        var keepUntil = (agent.EvidenceExpiresAt ?? _time.GetUtcNow().AddHours(1)) + _options.ReplaySlack;
        var verdict = await _cache.CheckAndRecordAsync(key, binding, keepUntil, cancellationToken).ConfigureAwait(false);
        var accepted = verdict switch
        {
            ReplayVerdict.FirstUse => true,
            ReplayVerdict.SameBinding => mode == ReplayMode.Bound,
            _ => false,
        };
        if (!accepted)
        {
            throw new BrokerException(BrokerFailure.Unauthenticated, Reasons.TokenReplayed,
                mode == ReplayMode.Strict
                    ? "This identity token was already used; present a fresh one for each request."
                    : "This identity token was already used for another task; present a fresh one.");
        }
    }
}
