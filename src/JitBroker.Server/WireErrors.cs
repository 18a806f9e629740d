using Grpc.Core;
using JitBroker.Core;

namespace JitBroker.Server;

/// <summary>Maps domain failures to gRPC statuses; the stable reason code travels in the <c>jitbroker-reason</c> trailer.</summary>
public static class WireErrors
{
    public const string ReasonTrailer = "jitbroker-reason";

    public static RpcException ToRpc(BrokerException ex)
    {
        var trailers = new Metadata { { ReasonTrailer, ex.Reason } };
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
