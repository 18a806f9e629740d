using Grpc.Core;
using JitBroker.Core;

namespace JitBroker.Server;

/// <summary>Maps domain failures to gRPC statuses; the stable reason code travels in the <c>jitbroker-reason</c> trailer.</summary>
public static class WireErrors
{
    public const string ReasonTrailer = "jitbroker-reason";

    /// <summary>Milliseconds to wait before retrying a refusal that passes with time (a quota's rate); any client can read it.</summary>
    public const string RetryAfterTrailer = "retry-after-ms";

    /// <summary>
    /// gRPC's own retry pushback (gRFC A6): a client whose retry policy covers RESOURCE_EXHAUSTED waits this long before
    /// its next attempt instead of its own backoff. Sent with the same value as <see cref="RetryAfterTrailer"/>.
    /// </summary>
    public const string RetryPushbackTrailer = "grpc-retry-pushback-ms";

    public static RpcException ToRpc(BrokerException ex)
    {
        var trailers = new Metadata { { ReasonTrailer, ex.Reason } };
        if (ex.RetryAfter is { } retryAfter)
        {
            var ms = ((long)Math.Ceiling(Math.Max(0, retryAfter.TotalMilliseconds))).ToString(System.Globalization.CultureInfo.InvariantCulture);
            trailers.Add(RetryAfterTrailer, ms);
            trailers.Add(RetryPushbackTrailer, ms);
        }

        return new RpcException(new Status(ToStatus(ex.Failure), $"{ex.Reason}: {ex.Message}"), trailers);
    }

    public static StatusCode ToStatus(BrokerFailure failure) => failure switch
    {
        BrokerFailure.InvalidArgument => StatusCode.InvalidArgument,
        BrokerFailure.Unauthenticated => StatusCode.Unauthenticated,
        BrokerFailure.PermissionDenied => StatusCode.PermissionDenied,
        BrokerFailure.NotFound => StatusCode.NotFound,
        BrokerFailure.FailedPrecondition => StatusCode.FailedPrecondition,
        BrokerFailure.ResourceExhausted => StatusCode.ResourceExhausted,
        BrokerFailure.Unavailable => StatusCode.Unavailable,
        _ => StatusCode.Internal,
    };
}
