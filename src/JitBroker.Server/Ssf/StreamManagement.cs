using JitBroker.Core;

namespace JitBroker.Server.Ssf;

/// <summary>
/// The stream management rules (SSF 1.0 §8.1), apart from HTTP: a receiver sees and changes only its own streams (another's
/// id is "not found", never "forbidden", so ids cannot be probed), requests only its own audiences, and pushes only to an
/// https URL (http on loopback when allowed).
/// </summary>
public sealed class StreamManagement(ISignalOutbox outbox, SsfSettings settings, SsfReceivers receivers, SignalDeliveryWakeup wakeup, TimeProvider time)
{
    public async Task<SignalStream> CreateAsync(string owner, IReadOnlySet<string> allowed, StreamRequest request, CancellationToken cancellationToken = default)
    {
        var mine = await OwnAsync(owner, cancellationToken).ConfigureAwait(false);
        if (mine.Count >= settings.MaxStreamsPerReceiver)
        {
            throw new SsfException(StatusCodes.Status409Conflict, Reasons.Ssf.TooManyStreams, $"A receiver may have at most {settings.MaxStreamsPerReceiver} streams.");
        }

        var stream = new SignalStream
        {
            StreamId = "ssf_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12)),
            Owner = owner,
            Audiences = Audiences(allowed, request.Audiences),
            EndpointUrl = Endpoint(owner, request.DeliveryMethod, request.EndpointUrl ?? throw SsfException.Invalid("delivery.endpoint_url is required for push delivery.")),
            AuthorizationHeader = request.AuthorizationHeader,
            EventsRequested = request.EventsRequested ?? [.. SignalEventTypes.Supported],
            Description = request.Description,
            CreatedAt = time.GetUtcNow(),
        };
        await outbox.PutStreamAsync(stream, cancellationToken).ConfigureAwait(false);
        return stream;
    }

    public async Task<SignalStream> GetAsync(string owner, string? streamId, CancellationToken cancellationToken = default)
    {
        var stream = streamId is null ? null : await outbox.GetStreamAsync(streamId, cancellationToken).ConfigureAwait(false);
        return stream is not null && string.Equals(stream.Owner, owner, StringComparison.Ordinal)
            ? stream
            : throw new SsfException(StatusCodes.Status404NotFound, Reasons.Ssf.StreamNotFound, "No such stream for this receiver.");
    }

    public async Task<IReadOnlyList<SignalStream>> OwnAsync(string owner, CancellationToken cancellationToken = default) =>
        [.. (await outbox.ListStreamsAsync(cancellationToken).ConfigureAwait(false)).Where(s => string.Equals(s.Owner, owner, StringComparison.Ordinal))];

    /// <summary>PATCH changes the members sent; PUT (<paramref name="replace"/>) must send the whole receiver-supplied configuration.</summary>
    public async Task<SignalStream> UpdateAsync(string owner, IReadOnlySet<string> allowed, StreamRequest request, bool replace, CancellationToken cancellationToken = default)
    {
        var stream = await GetAsync(owner, request.StreamId, cancellationToken).ConfigureAwait(false);
        if (replace && (request.EndpointUrl is null || request.EventsRequested is null))
        {
            throw SsfException.Invalid("PUT replaces the stream: send delivery and events_requested.");
        }

        var updated = stream with
        {
            Audiences = request.Audiences is null && !replace ? stream.Audiences : Audiences(allowed, request.Audiences),
            EndpointUrl = request.EndpointUrl is null ? stream.EndpointUrl : Endpoint(owner, request.DeliveryMethod, request.EndpointUrl),
            AuthorizationHeader = request.EndpointUrl is null && !replace ? stream.AuthorizationHeader : request.AuthorizationHeader,
            EventsRequested = request.EventsRequested ?? stream.EventsRequested,
            Description = request.Description ?? (replace ? null : stream.Description),
        };
        await outbox.PutStreamAsync(updated, cancellationToken).ConfigureAwait(false);
        return updated;
    }

    public async Task DeleteAsync(string owner, string? streamId, CancellationToken cancellationToken = default)
    {
        var stream = await GetAsync(owner, streamId, cancellationToken).ConfigureAwait(false);
        await outbox.DeleteStreamAsync(stream.StreamId, cancellationToken).ConfigureAwait(false);
    }

    public async Task<SignalStream> SetStatusAsync(string owner, StreamRequest request, CancellationToken cancellationToken = default)
    {
        var stream = await GetAsync(owner, request.StreamId, cancellationToken).ConfigureAwait(false);
        if (!StreamStatus.IsKnown(request.Status))
        {
            throw SsfException.Invalid("status must be enabled, paused or disabled.");
        }

        var updated = stream with { Status = request.Status!, StatusReason = request.Reason };
        await outbox.PutStreamAsync(updated, cancellationToken).ConfigureAwait(false);
        wakeup.Wake();
        return updated;
    }

    /// <summary>SSF §8.1.4: queues a verification event carrying the receiver's <c>state</c>, delivered like any other SET.</summary>
    public async Task VerifyAsync(string owner, StreamRequest request, CancellationToken cancellationToken = default)
    {
        var stream = await GetAsync(owner, request.StreamId, cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        await outbox.EnqueueAsync([new PendingSignal
        {
            Id = SignalFanout.NewId(), StreamId = stream.StreamId, EventType = SignalEventTypes.Verification, Subject = request.State ?? "",
            Audience = stream.Audiences[0], EventTimestamp = now, EnqueuedAt = now,
        }], cancellationToken).ConfigureAwait(false);
        wakeup.Wake();
    }

    private static string[] Audiences(IReadOnlySet<string> allowed, IReadOnlyList<string>? requested)
    {
        if (requested is null)
        {
            return [.. allowed.Order(StringComparer.Ordinal)];
        }

        var refused = requested.Where(a => !allowed.Contains(a)).ToList();
        return refused.Count == 0 && requested.Count > 0
            ? [.. requested]
            : throw new SsfException(StatusCodes.Status403Forbidden, Reasons.Ssf.AudienceNotAllowed,
                "This receiver may not hear about audience(s): " + string.Join(", ", refused.Take(5)));
    }

    private string Endpoint(string owner, string? method, string url)
    {
        if (method is not null && method != StreamRequest.PushMethod)
        {
            throw SsfException.Invalid($"delivery.method must be {StreamRequest.PushMethod} (push); poll delivery is not offered.");
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0
            || !(uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && settings.AllowLoopbackHttp && uri.IsLoopback)))
        {
            throw SsfException.Invalid(settings.AllowLoopbackHttp
                ? "delivery.endpoint_url must be an absolute https URL (or http on a loopback address) without user info or fragment."
                : "delivery.endpoint_url must be an absolute https URL without user info or fragment.");
        }

        return receivers.MayPushTo(owner, uri.AbsoluteUri)
            ? uri.AbsoluteUri
            : throw new SsfException(StatusCodes.Status403Forbidden, Reasons.Ssf.EndpointNotAllowed, "delivery.endpoint_url is outside the prefixes configured for this receiver.");
    }
}
