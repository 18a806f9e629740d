namespace JitBroker.Server.Ssf;

/// <summary>SSF 1.0 stream status values (§8.1.2).</summary>
public static class StreamStatus
{
    public const string Enabled = "enabled";
    public const string Paused = "paused";
    public const string Disabled = "disabled";

    public static bool IsKnown(string? value) => value is Enabled or Paused or Disabled;
}

/// <summary>The event types this transmitter can send (SSF <c>events_supported</c>).</summary>
public static class SignalEventTypes
{
    public const string SessionRevoked = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
    public const string Verification = "https://schemas.openid.net/secevent/ssf/event-type/verification";

    /// <summary>A session-revoked subject naming one token (<c>iss</c> + <c>jti</c>, SSF 1.0 §3.5.1) — per credential.</summary>
    public const string JwtIdFormat = "jwt_id";

    /// <summary>A session-revoked subject naming an agent (<c>iss</c> + <c>sub</c>, RFC 9493 §3.2.2.1) — the kill switch's subject-level event.</summary>
    public const string IssSubFormat = "iss_sub";

    /// <summary>Verification is always delivered (SSF §8.1.4), so it is not listed as requestable.</summary>
    public static readonly string[] Supported = [SessionRevoked];
}

/// <summary>
/// One event stream: who owns it (the authenticated receiver identity), which audiences it hears about, where SETs are
/// pushed. Stored in the outbox so every replica delivers it.
/// </summary>
public sealed record SignalStream
{
    public required string StreamId { get; init; }
    public required string Owner { get; init; }
    public required IReadOnlyList<string> Audiences { get; init; }
    public required string EndpointUrl { get; init; }

    /// <summary>The receiver's own <c>Authorization</c> value for pushes (SSF <c>authorization_header</c>); a secret, never logged.</summary>
    public string? AuthorizationHeader { get; init; }
    public required IReadOnlyList<string> EventsRequested { get; init; }
    public string Status { get; init; } = StreamStatus.Enabled;
    public string? StatusReason { get; init; }
    public string? Description { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>What this stream is sent: requested ∩ supported (SSF <c>events_delivered</c>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<string> EventsDelivered => [.. EventsRequested.Where(e => SignalEventTypes.Supported.Contains(e))];
}

/// <summary>
/// One SET waiting for its stream. The token is signed at delivery (so its <c>iat</c> is fresh after an outage); its
/// <see cref="Id"/> becomes the SET's <c>jti</c> and stays the same across retries, so receivers can drop duplicates.
/// </summary>
public sealed record PendingSignal
{
    public required string Id { get; init; }
    public required string StreamId { get; init; }
    public required string EventType { get; init; }

    /// <summary>
    /// The revoked credential's <c>jti</c> (its lease id) when <see cref="SubjectFormat"/> is <c>jwt_id</c>, the agent id
    /// when it is <c>iss_sub</c>, or the verification <c>state</c> for a verification event.
    /// </summary>
    public required string Subject { get; init; }

    /// <summary><see cref="SignalEventTypes.JwtIdFormat"/> (default; also what items queued before this field existed mean) or <see cref="SignalEventTypes.IssSubFormat"/>.</summary>
    public string SubjectFormat { get; init; } = SignalEventTypes.JwtIdFormat;

    /// <summary>The audience the SET is addressed to.</summary>
    public required string Audience { get; init; }
    public required DateTimeOffset EventTimestamp { get; init; }
    public required DateTimeOffset EnqueuedAt { get; init; }
    public int Attempts { get; init; }
}

/// <summary>What <c>jitctl receivers</c> shows of a stream's queue.</summary>
public sealed record SignalQueueStats(long Pending, DateTimeOffset? OldestEnqueuedAt, string? LastError, DateTimeOffset? LastErrorAt, DateTimeOffset? LastDeliveredAt);
