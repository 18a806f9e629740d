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
/// A failure with a stable, machine-readable reason code (see <see cref="Reasons"/> and the component
/// reason classes) and a message that is safe to show the caller: it never contains a token, a key or a
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
}

/// <summary>Reason codes raised by the core pipeline. Components define their own next to their code.</summary>
public static class Reasons
{
    public const string RequestInvalid = "request.invalid";
    /// <summary>The request body is not the declared protobuf message (garbage, truncated, wrong wire types).</summary>
    public const string RequestMalformed = "request.malformed";
    public const string IdentityMissing = "identity.missing";
    public const string IdentityUnsupported = "identity.unsupported";
    public const string PolicyDenied = "policy.denied";
    public const string PolicyApprovalRequired = "policy.approval_required";
    public const string IssuerUnknownKind = "issuer.unknown_kind";
    public const string IssuerUnavailable = "issuer.unavailable";
    public const string IssuerFailed = "issuer.failed";
    public const string LeaseStoreUnavailable = "lease_store.unavailable";
    public const string LeaseNotFound = "lease.not_found";
    public const string TaskNotFound = "task.not_found";
    public const string CredentialInvalid = "credential.invalid";
    /// <summary>A delegated lease cannot be recorded: its parent was revoked (or is being revoked) meanwhile.</summary>
    public const string ParentLeaseNotActive = "lease.parent_not_active";
    public const string RevocationBatchNotFound = "revocation.batch_not_found";
}
