namespace JitBroker.Audit;

/// <summary>Stable reason codes raised by the audit log.</summary>
public static class AuditReasons
{
    /// <summary>The event could not be made durable; the broker fails closed (refuses to issue).</summary>
    public const string Unavailable = "audit.unavailable";

    /// <summary>The caller passed an event the log will not record (empty or reserved type).</summary>
    public const string EventInvalid = "audit.event_invalid";

    /// <summary>The stored log does not end in a record the writer can continue from.</summary>
    public const string TailInvalid = "audit.tail_invalid";
}
