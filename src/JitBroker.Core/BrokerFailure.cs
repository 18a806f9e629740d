namespace JitBroker.Core;

/// <summary>
/// The kind of a failure the broker reports to its caller. The transport maps each kind to one gRPC
/// status code; the domain never names transport codes itself.
/// </summary>
public enum BrokerFailure
{
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    FailedPrecondition,
    ResourceExhausted,
    Unavailable,
    Internal,
}

/// <summary>
/// A failure with a stable, machine-readable reason code (see <see cref="Reasons"/>, the one catalogue) and a
/// message that is safe to show the caller: it never contains a token, a key or a
/// secret, and it never contains a stack trace.
/// </summary>
public sealed class BrokerException : Exception
{
    public BrokerException(BrokerFailure failure, string reason, string message, Exception? inner = null)
        : base(message, inner)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        Failure = failure;
        Reason = reason;
    }

    public BrokerFailure Failure { get; }

    /// <summary>Stable reason code, dotted lowercase, for example <c>token.expired</c>.</summary>
    public string Reason { get; }

    /// <summary>For a refusal that passes with time (a quota's rate): how long the caller should wait before retrying.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>A policy denial because the requested audience is granted by no rule (the OAuth door answers <c>invalid_target</c>); the reason stays <see cref="Reasons.PolicyDenied"/>.</summary>
    public bool AudienceNotAllowed { get; init; }
}
