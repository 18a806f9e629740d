using System.Security.Cryptography;

namespace JitBroker.Issuance;

/// <summary>When a <see cref="ScheduledRotationSigningKeyProvider"/> rotates, announces and retires keys.</summary>
public sealed record KeyRotationSchedule(TimeSpan Interval, TimeSpan PublishAhead, TimeSpan RetainAfterRetirement)
{
    /// <summary>
    /// Problems, one sentence each. <paramref name="jwksCacheLifetime"/> is how long relying parties may cache the JWKS
    /// (the endpoint's max-age); <paramref name="longestTokenLifetime"/> is the maximum TTL plus the relying parties' clock skew.
    /// </summary>
    public IEnumerable<string> Validate(TimeSpan jwksCacheLifetime, TimeSpan longestTokenLifetime)
    {
        if (PublishAhead < jwksCacheLifetime)
        {
            yield return "PublishAhead must be at least the JWKS cache lifetime, or a relying party meets a token whose key it has not fetched.";
        }

        if (RetainAfterRetirement < longestTokenLifetime)
        {
            yield return "RetainAfterRetirement must be at least the longest token lifetime plus clock skew, or live tokens stop verifying.";
        }

        if (Interval <= PublishAhead || Interval < TimeSpan.FromMinutes(1))
        {
            yield return "Interval must be at least 1 minute and longer than PublishAhead.";
        }
    }
}

/// <summary>
/// Task-JWT keys that rotate by themselves on <see cref="KeyRotationSchedule.Interval"/>, driven by the injected clock.
/// Epoch n runs from origin + n·Interval; its key is <see cref="DerivedSigningKey.ForEpoch"/> of the root secret, so
/// replicas and restarts sharing the secret (and origin) publish and sign with the same keys without coordinating.
/// Key n+1 is published (in <see cref="VerificationKeys"/>, hence the JWKS) <see cref="KeyRotationSchedule.PublishAhead"/>
/// before epoch n+1 begins; key n signs; earlier keys stay published for <see cref="KeyRotationSchedule.RetainAfterRetirement"/>
/// after their epoch ended, so every token they signed verifies until it expires. Thread-safe; the provider owns its keys.
/// Derived keys are ES256 (P-256) only: an EC private key is a scalar HKDF can produce soundly, while an RSA key would need
/// a prime search seeded from the secret — hand-rolled key generation, which the broker does not do; start-up refuses
/// scheduled rotation with RS256/PS256 (SettingsValidator).
/// </summary>
public sealed class ScheduledRotationSigningKeyProvider : ISigningKeyProvider, IDisposable
{
    private readonly byte[] _rootSecret;
    private readonly DateTimeOffset _origin;
    private readonly KeyRotationSchedule _schedule;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<long, SigningKey> _keys = [];
    private readonly IReadOnlyList<SigningKey> _alsoPublished;

    /// <param name="rootSecret">At least <see cref="DerivedSigningKey.MinRootSecretBytes"/> random bytes; copied, and wiped on dispose.</param>
    /// <param name="origin">Where epoch 0 begins; every replica must use the same (the broker uses the Unix epoch).</param>
    /// <param name="alsoPublished">
    /// Verification-only keys published after the derived ones (e.g. the key file used before rotation was switched on,
    /// until its tokens expired); the provider owns them.
    /// </param>
    public ScheduledRotationSigningKeyProvider(ReadOnlySpan<byte> rootSecret, DateTimeOffset origin, KeyRotationSchedule schedule, TimeProvider time,
        IReadOnlyList<SigningKey>? alsoPublished = null)
    {
        if (rootSecret.Length < DerivedSigningKey.MinRootSecretBytes)
        {
            throw new ArgumentException($"The root secret must be at least {DerivedSigningKey.MinRootSecretBytes} bytes.", nameof(rootSecret));
        }

        _rootSecret = rootSecret.ToArray();
        _origin = origin;
        _schedule = schedule;
        _time = time;
        _alsoPublished = alsoPublished ?? [];
    }

    public SigningKey Current
    {
        get
        {
            lock (_gate)
            {
                return Published(_time.GetUtcNow())[0];
            }
        }
    }

    public IReadOnlyList<SigningKey> VerificationKeys
    {
        get
        {
            lock (_gate)
            {
                var published = Published(_time.GetUtcNow());
                return [.. published, .. _alsoPublished.Where(k => !published.Exists(p => p.KeyId == k.KeyId))];
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var key in _keys.Values)
            {
                key.Dispose();
            }

            _keys.Clear();
            foreach (var key in _alsoPublished)
            {
                key.Dispose();
            }

            CryptographicOperations.ZeroMemory(_rootSecret);
        }
    }

    // Current first (the JWKS order relying parties see), then the announced next key, then retired keys, newest first.
    // Keys no longer published are dropped from the cache, not disposed: a verifier may still hold an earlier snapshot
    // (the key's SafeHandle is released when it is collected).
    private List<SigningKey> Published(DateTimeOffset now)
    {
        var epoch = EpochAt(now);
        var epochs = new List<long> { epoch };
        if (StartOf(epoch + 1) - _schedule.PublishAhead <= now)
        {
            epochs.Add(epoch + 1);
        }

        // Key k signed until epoch k+1 began and is kept RetainAfterRetirement after that.
        for (var k = epoch - 1; StartOf(k + 1) + _schedule.RetainAfterRetirement > now; k--)
        {
            epochs.Add(k);
        }

        foreach (var stale in _keys.Keys.Except(epochs).ToList())
        {
            _keys.Remove(stale);
        }

        return [.. epochs.Select(KeyOf)];
    }

    private SigningKey KeyOf(long epoch)
    {
        if (!_keys.TryGetValue(epoch, out var key))
        {
#pragma warning disable CA2000 // owned by _keys from here on; disposed with the provider
            key = DerivedSigningKey.ForEpoch(_rootSecret, epoch);
#pragma warning restore CA2000
            _keys[epoch] = key;
        }

        return key;
    }

    private long EpochAt(DateTimeOffset t)
    {
        var ticks = (t - _origin).Ticks;
        var epoch = ticks / _schedule.Interval.Ticks;
        return ticks < 0 && ticks % _schedule.Interval.Ticks != 0 ? epoch - 1 : epoch; // floor, also before the origin
    }

    private DateTimeOffset StartOf(long epoch) => _origin + TimeSpan.FromTicks(_schedule.Interval.Ticks * epoch);
}
