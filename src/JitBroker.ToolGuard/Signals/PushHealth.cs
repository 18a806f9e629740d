namespace JitBroker.ToolGuard;

/// <summary>
/// Whether revocations reach this tool by push right now: the broker answered a verification request through the stream
/// (the same queue and delivery path as revocations) within two verification intervals. Decides how long introspection
/// answers may be reused.
/// </summary>
internal sealed class PushHealth(TimeProvider time)
{
    private readonly Lock _gate = new();
    private string? _pendingState;
    private DateTimeOffset _verifiedAt = DateTimeOffset.MinValue;

    public string? StreamId { get; private set; }

    /// <summary>Remembers the <c>state</c> of a verification just requested for <paramref name="streamId"/>.</summary>
    public void Expect(string streamId, string state)
    {
        lock (_gate)
        {
            StreamId = streamId;
            _pendingState = state;
        }
    }

    /// <summary>A verification SET arrived: healthy when it carries the state we asked for on our stream.</summary>
    public bool Verified(string? streamId, string? state)
    {
        lock (_gate)
        {
            if (state is null || streamId != StreamId || state != _pendingState)
            {
                return false;
            }

            _verifiedAt = time.GetUtcNow();
            return true;
        }
    }

    public bool IsHealthy(TimeSpan interval) => time.GetUtcNow() - _verifiedAt <= interval * 2;

    /// <summary>How long an introspection answer may be reused now.</summary>
    public TimeSpan IntrospectionCacheDuration(ToolGuardOptions o) =>
        o.Signals.Enabled && IsHealthy(o.Signals.VerificationInterval) ? o.Signals.IntrospectionCacheWhilePushHealthy : o.Introspection.CacheDuration;
}
