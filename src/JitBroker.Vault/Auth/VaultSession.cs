using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;

namespace JitBroker.Vault.Auth;

/// <summary>
/// The broker's own authenticated connection to Vault. Logs in lazily, renews its token (<c>auth/token/renew-self</c>)
/// once <see cref="VaultOptions.RenewAtFractionOfTtl"/> of its TTL has passed — on the injected
/// <see cref="TimeProvider"/> — and logs in again when renewal fails, when the token is near its maximum TTL, when
/// the token file changes, or when a call is refused with 403 (the token may have been revoked or lost): such a call
/// is retried exactly once with the new token, and a second 403 is a real permission problem. Safe for concurrent
/// use; at most one login or renewal runs at a time.
/// </summary>
public sealed partial class VaultSession : IDisposable
{
    private const string RenewSelf = "auth/token/renew-self";
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan MinimumRefreshDelay = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan BackgroundRetryDelay = TimeSpan.FromSeconds(10);

    private readonly VaultHttpClient _client;
    private readonly IVaultAuth _auth;
    private readonly TimeProvider _time;
    private readonly double _renewFraction;
    private readonly ILogger<VaultSession> _log;
    #pragma warning disable CA2213 // a refresh in flight still releases it after Dispose; its wait handle is never created
    private readonly SemaphoreSlim _gate = new(1, 1);
    #pragma warning restore CA2213
    private readonly Lock _timerLock = new();
    #pragma warning disable CA2213 // a refresh in flight may still observe it after Dispose (see Dispose); no timer or registrations to release
    private readonly CancellationTokenSource _stopping = new();
    #pragma warning restore CA2213
    private volatile TokenState? _state;
    private ITimer? _timer;
    private Task _background = Task.CompletedTask;
    private int _logins;
    private bool _disposed;

    public VaultSession(VaultHttpClient client, IVaultAuth auth, TimeProvider time, ILogger<VaultSession> log, double renewAtFractionOfTtl = 2.0 / 3.0)
    {
        _client = client;
        _auth = auth;
        _time = time;
        _log = log;
        _renewFraction = renewAtFractionOfTtl;
    }

    public VaultHttpClient Client => _client;

    /// <summary>When the broker's current token expires (null: not logged in yet, or a token that never expires).</summary>
    public DateTimeOffset? TokenExpiresAt => _state?.ExpiresAt;

    /// <summary>Logins performed so far (for tests and diagnostics).</summary>
    public int LoginCount => Volatile.Read(ref _logins);

    /// <summary>The renewal or re-login the refresh timer last started (tests await it after advancing the clock).</summary>
    internal Task BackgroundWork => Volatile.Read(ref _background);

    /// <summary>
    /// Sends an authenticated request. The broker's token is first made to live at least
    /// <paramref name="minTokenLifetime"/> more where Vault allows (renewed, or replaced by a fresh login), because
    /// Vault revokes a token's children and the leases it created together with it. Throws <see cref="VaultException"/>.
    /// </summary>
    public async Task<VaultReply> SendAsync<TBody>(HttpMethod method, string path, TBody? body, JsonTypeInfo<TBody>? bodyType, TimeSpan minTokenLifetime, CancellationToken cancellationToken = default)
        where TBody : class
    {
        var state = await EnsureTokenAsync(minTokenLifetime, cancellationToken).ConfigureAwait(false);
        try
        {
            return await _client.SendAsync(method, path, body, bodyType, state.Token, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException e) when (e.Kind == VaultErrorKind.PermissionDenied)
        {
            // "permission denied" is also what Vault says for a revoked, expired or unknown token. Log in again and
            // retry once; a second refusal is the broker's policy, and the caller reports it to the operator.
            LogRetryingAfterRelogin(_log, e.Operation);
            state = await ReloginAsync(state, cancellationToken).ConfigureAwait(false);
            return await _client.SendAsync(method, path, body, bodyType, state.Token, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Sends an authenticated request without a body.</summary>
    public Task<VaultReply> SendAsync(HttpMethod method, string path, TimeSpan minTokenLifetime, CancellationToken cancellationToken = default) =>
        SendAsync<EmptyRequest>(method, path, null, null, minTokenLifetime, cancellationToken);

    public void Dispose()
    {
        lock (_timerLock)
        {
            _disposed = true;
            _timer?.Dispose();
            _timer = null;
        }

        // Stops a refresh in flight; the CTS itself is left to the GC because that refresh may still observe it.
        _stopping.Cancel();
    }

    private async Task<TokenState> EnsureTokenAsync(TimeSpan minLifetime, CancellationToken cancellationToken)
    {
        var state = _state;
        if (state is not null && !ShortOf(state, minLifetime) && !_auth.HasChangedSinceLogin())
        {
            return state;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            state = _state;
            if (state is not null && _auth.HasChangedSinceLogin())
            {
                LogCredentialChanged(_log, _auth.Method);
                state = null;
            }

            // At most two rounds: log in if needed, renew if short, and log in again only when that can help (a
            // token still close to its login TTL would come back no longer).
            for (var round = 0; round < 2; round++)
            {
                state ??= await LoginLockedAsync(cancellationToken).ConfigureAwait(false);
                if (!ShortOf(state, minLifetime))
                {
                    return state;
                }

                if (state.Renewable)
                {
                    var renewal = await TryRenewLockedAsync(state, Max(state.LoginTtl, minLifetime), cancellationToken).ConfigureAwait(false);
                    if (renewal is null)
                    {
                        state = null;
                        continue;
                    }

                    state = renewal.State;
                    if (!ShortOf(state, minLifetime))
                    {
                        return state;
                    }
                }

                if (Remaining(state) >= state.LoginTtl * 0.9)
                {
                    return state;
                }

                state = null;
            }

            state ??= await LoginLockedAsync(cancellationToken).ConfigureAwait(false);
            return state;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<TokenState> ReloginAsync(TokenState stale, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Another caller may already have replaced the refused token.
            var current = _state;
            return current is not null && !ReferenceEquals(current, stale) ? current : await LoginLockedAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<TokenState> LoginLockedAsync(CancellationToken cancellationToken)
    {
        var login = await _auth.LoginAsync(_client, cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var state = new TokenState(login.Token, now, login.Ttl > TimeSpan.Zero ? now + login.Ttl : null, login.Renewable, login.Ttl);
        _state = state;
        Interlocked.Increment(ref _logins);
        LogLoggedIn(_log, _auth.Method, login.Ttl.TotalSeconds, login.Renewable);
        Schedule(state, DelayFor(state));
        return state;
    }

    /// <summary>renew-self; returns null when Vault refused (the caller logs in again). Unavailable propagates.</summary>
    private async Task<Renewal?> TryRenewLockedAsync(TokenState state, TimeSpan increment, CancellationToken cancellationToken)
    {
        try
        {
            var body = new RenewSelfRequest { Increment = $"{(long)Math.Ceiling(increment.TotalSeconds)}s" };
            var reply = await _client.SendAsync(HttpMethod.Post, RenewSelf, body, VaultJsonContext.Default.RenewSelfRequest, state.Token, cancellationToken).ConfigureAwait(false);
            if (reply.Body?.Auth is not { } auth)
            {
                return null;
            }

            var now = _time.GetUtcNow();
            var ttl = TimeSpan.FromSeconds(auth.LeaseDuration);
            var renewed = new TokenState(state.Token, now, ttl > TimeSpan.Zero ? now + ttl : null, auth.Renewable, state.LoginTtl);
            _state = renewed;
            LogRenewed(_log, ttl.TotalSeconds);
            // Vault caps a renewal at the token's max TTL (and answers with a warning): a renewal that came back far
            // shorter than asked means the end is near, so log in again at the next refresh rather than at expiry.
            var nearMax = ttl < increment / 2;
            Schedule(renewed, nearMax ? MinimumRefreshDelay : DelayFor(renewed));
            return new Renewal(renewed, nearMax);
        }
        catch (VaultException e) when (!e.IsRetryable)
        {
            LogRenewRefused(_log, e);
            return null;
        }
    }

    private void Schedule(TokenState state, TimeSpan? delay)
    {
        lock (_timerLock)
        {
            _timer?.Dispose();
            _timer = null;
            if (_disposed || delay is not { } due)
            {
                return;
            }

            _timer = _time.CreateTimer(_ => Volatile.Write(ref _background, RefreshInBackgroundAsync(state, _stopping.Token)), null, due, Timeout.InfiniteTimeSpan);
        }
    }

    private async Task RefreshInBackgroundAsync(TokenState scheduledFor, CancellationToken cancellationToken = default)
    {
        try
        {
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var state = _state;
                if (!ReferenceEquals(state, scheduledFor) || state is null)
                {
                    return;
                }

                var renewal = state.Renewable ? await TryRenewLockedAsync(state, state.LoginTtl, cancellationToken).ConfigureAwait(false) : null;
                if (renewal is null || renewal.NearMaxTtl)
                {
                    await LoginLockedAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                _gate.Release();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Disposed while refreshing.
        }
        catch (Exception e) when (e is VaultException or ObjectDisposedException)
        {
            // Vault down or the login refused: keep the current token (it may still work) and try again soon.
            LogBackgroundRefreshFailed(_log, e);
            if (e is VaultException)
            {
                Schedule(scheduledFor, BackgroundRetryDelay);
            }
        }
    }

    private TimeSpan? DelayFor(TokenState state)
    {
        if (state.ExpiresAt is not { } expires)
        {
            return null;
        }

        var lifetime = expires - state.ObtainedAt;
        var delay = lifetime * _renewFraction;
        return delay < MinimumRefreshDelay ? MinimumRefreshDelay : delay;
    }

    private TimeSpan Remaining(TokenState state) => state.ExpiresAt is { } e ? e - _time.GetUtcNow() : TimeSpan.MaxValue;

    private bool ShortOf(TokenState state, TimeSpan minLifetime) => Remaining(state) < Max(minLifetime, TimeSpan.Zero) + Margin;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private sealed record Renewal(TokenState State, bool NearMaxTtl);

    /// <summary>Holds the broker's token. A record would print it from ToString; this one redacts.</summary>
    private sealed record TokenState(string Token, DateTimeOffset ObtainedAt, DateTimeOffset? ExpiresAt, bool Renewable, TimeSpan LoginTtl)
    {
        public override string ToString() => $"TokenState(expires={ExpiresAt:O}, renewable={Renewable})";
    }
}
