using Google.Protobuf.WellKnownTypes;
using JitBroker.Protocol.V1;

namespace JitBroker.Server.Ssf;

/// <summary>What <c>jitctl receivers</c> shows: each stream's queue from the outbox (shared by all replicas), lag = age of the oldest pending SET.</summary>
public sealed class ReceiverStatus(ISignalOutbox outbox, TimeProvider time)
{
    public async Task<ListReceiversResponse> ListAsync(CancellationToken cancellationToken = default)
    {
        var response = new ListReceiversResponse { Enabled = true };
        var now = time.GetUtcNow();
        foreach (var s in await outbox.ListStreamsAsync(cancellationToken).ConfigureAwait(false))
        {
            var stats = await outbox.StatsAsync(s.StreamId, cancellationToken).ConfigureAwait(false);
            var endpoint = new Uri(s.EndpointUrl);
            var info = new ReceiverStreamInfo
            {
                StreamId = s.StreamId, Receiver = s.Owner, Endpoint = endpoint.GetLeftPart(UriPartial.Path), Status = s.Status, Pending = stats.Pending,
                Lag = Duration.FromTimeSpan(stats.OldestEnqueuedAt is { } oldest && now > oldest ? now - oldest : TimeSpan.Zero),
                LastError = stats.LastError ?? "",
                LastErrorAt = stats.LastErrorAt is { } e ? Timestamp.FromDateTimeOffset(e) : null,
                LastDeliveredAt = stats.LastDeliveredAt is { } d ? Timestamp.FromDateTimeOffset(d) : null,
            };
            info.Audiences.AddRange(s.Audiences);
            response.Streams.Add(info);
        }

        return response;
    }
}
