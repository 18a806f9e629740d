using JitBroker.Core;

namespace JitBroker.Server.Ssf;

/// <summary>
/// The transmitter's side of <see cref="IRevocationSignals"/>: one session-revoked SET per revoked credential for every
/// enabled stream that hears about the credential's audience and asked for the event, queued in the outbox before
/// <see cref="LeaseRevoker"/> marks the revocation. A lease revoked at or after its expiry (the sweeper's TTL
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

        var streams = await ActiveStreamsAsync(cancellationToken).ConfigureAwait(false);
        List<PendingSignal> signals = [.. from lease in live
                                          from stream in streams
                                          where stream.Audiences.Contains(lease.Scope.Audience, StringComparer.Ordinal)
                                          select Signal(stream, lease.Scope.Audience, lease.LeaseId, SignalEventTypes.JwtIdFormat, revokedAt)];
        await EnqueueAsync(signals, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The kill switch's subject-level events: one per (agent, stream, audience of the stream), queued before the
    /// per-credential ones. Every stream hears it for each audience it subscribed to — the broker does not look up which
    /// audiences the agent's leases had (that would cost a read per lease before the first event leaves): a receiver may
    /// learn that an agent it never saw was blocked. Receivers that do not understand <c>iss_sub</c> lose nothing: every
    /// credential still gets its own event.
    /// </summary>
    public async Task SubjectsRevokedAsync(IReadOnlyList<string> agentIds, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        var streams = await ActiveStreamsAsync(cancellationToken).ConfigureAwait(false);
        List<PendingSignal> signals = [.. from agent in agentIds
                                          from stream in streams
                                          from audience in stream.Audiences
                                          select Signal(stream, audience, agent, SignalEventTypes.IssSubFormat, revokedAt)];
        await EnqueueAsync(signals, cancellationToken).ConfigureAwait(false);
    }

    // Read every time rather than cached: a stream created a moment ago on another replica must not miss a revocation.
    private async Task<List<SignalStream>> ActiveStreamsAsync(CancellationToken cancellationToken) =>
        [.. (await outbox.ListStreamsAsync(cancellationToken).ConfigureAwait(false))
            .Where(s => s.Status != StreamStatus.Disabled && s.EventsDelivered.Contains(SignalEventTypes.SessionRevoked))];

    private static PendingSignal Signal(SignalStream stream, string audience, string subject, string format, DateTimeOffset at) => new()
    {
        Id = NewId(),
        StreamId = stream.StreamId,
        EventType = SignalEventTypes.SessionRevoked,
        Subject = subject,
        SubjectFormat = format,
        Audience = audience,
        EventTimestamp = at,
        EnqueuedAt = at,
    };

    private async Task EnqueueAsync(List<PendingSignal> signals, CancellationToken cancellationToken)
    {
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
