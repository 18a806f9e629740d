using JitBroker.Core;

namespace JitBroker.Server.Ssf;

/// <summary>
/// The transmitter's side of <see cref="IRevocationSignals"/>: one session-revoked SET per revoked credential for every
/// enabled stream that hears about the credential's audience and asked for the event, queued in the outbox before
/// <see cref="LeaseRevoker"/> reports the revocation done. A lease revoked at or after its expiry (the sweeper's TTL
/// path) gets none: every receiver already refuses it by <c>exp</c>, and a kill switch of expired leases would otherwise
/// flood receivers with news they cannot use.
/// </summary>
public sealed class SignalFanout(ISignalOutbox outbox, SignalDeliveryWakeup wakeup) : IRevocationSignals
{
    public async Task RevokedAsync(IReadOnlyList<Lease> leases, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        var live = leases.Where(l => revokedAt < l.ExpiresAt).ToList();
        if (live.Count == 0)
        {
            return;
        }

        // Read every time rather than cached: a stream created a moment ago on another replica must not miss a revocation.
        var streams = (await outbox.ListStreamsAsync(cancellationToken).ConfigureAwait(false))
            .Where(s => s.Status != StreamStatus.Disabled && s.EventsDelivered.Contains(SignalEventTypes.SessionRevoked))
            .ToList();
        if (streams.Count == 0)
        {
            return;
        }

        var signals = new List<PendingSignal>();
        foreach (var lease in live)
        {
            foreach (var stream in streams.Where(s => s.Audiences.Contains(lease.Scope.Audience, StringComparer.Ordinal)))
            {
                signals.Add(new PendingSignal
                {
                    Id = NewId(),
                    StreamId = stream.StreamId,
                    EventType = SignalEventTypes.SessionRevoked,
                    Subject = lease.LeaseId,
                    Audience = lease.Scope.Audience,
                    EventTimestamp = revokedAt,
                    EnqueuedAt = revokedAt,
                });
            }
        }

        if (signals.Count > 0)
        {
            await outbox.EnqueueAsync(signals, cancellationToken).ConfigureAwait(false);
            wakeup.Wake();
        }
    }

    /// <summary>A SET <c>jti</c>: 128 random bits, so receivers can dedupe across replicas and retries.</summary>
    public static string NewId() => "set_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
}

/// <summary>Wakes this replica's delivery loop when it queued something (other replicas find it on their next poll).</summary>
public sealed class SignalDeliveryWakeup : IDisposable
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Wake()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already awake.
        }
    }

    public void Dispose() => _signal.Dispose();

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken = default) => _signal.WaitAsync(timeout, cancellationToken);
}
