namespace JitBroker.Wire;

/// <summary>
/// gRPC status codes (grpc/grpc doc/statuscodes.md). The numeric values are the wire values sent in the
/// <c>grpc-status</c> trailer and must never change.
/// </summary>
public enum StatusCode
{
    /// <summary>Not an error; returned on success.</summary>
    OK = 0,

    /// <summary>The operation was cancelled, typically by the caller.</summary>
    Cancelled = 1,

    /// <summary>Unknown error, e.g. a status the client could not parse.</summary>
    Unknown = 2,

    /// <summary>The client specified an invalid argument.</summary>
    InvalidArgument = 3,

    /// <summary>The deadline expired before the operation could complete.</summary>
    DeadlineExceeded = 4,

    /// <summary>A requested entity was not found.</summary>
    NotFound = 5,

    /// <summary>The entity the client attempted to create already exists.</summary>
    AlreadyExists = 6,

    /// <summary>The caller is authenticated but not allowed to do this.</summary>
    PermissionDenied = 7,

    /// <summary>A resource (quota, message size, …) has been exhausted.</summary>
    ResourceExhausted = 8,

    /// <summary>The system is not in a state required for the operation.</summary>
    FailedPrecondition = 9,

    /// <summary>The operation was aborted, typically due to a concurrency issue.</summary>
    Aborted = 10,

    /// <summary>The operation was attempted past the valid range.</summary>
    OutOfRange = 11,

    /// <summary>The operation is not implemented or not supported.</summary>
    Unimplemented = 12,

    /// <summary>An internal invariant is broken; something is very wrong.</summary>
    Internal = 13,

    /// <summary>The service is currently unavailable; the call may be retried.</summary>
    Unavailable = 14,

    /// <summary>Unrecoverable data loss or corruption.</summary>
    DataLoss = 15,

    /// <summary>The request does not have valid authentication credentials.</summary>
    Unauthenticated = 16,
}
