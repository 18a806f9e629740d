using Grpc.Core;

namespace JitBroker.Cli;

/// <summary>jitctl exit codes, stable so scripts can branch on them (documented in the README).</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The command ran and the answer is "no" (for example introspection: inactive).</summary>
    public const int Negative = 1;
    public const int Usage = 2;
    public const int Unauthenticated = 3;
    public const int PermissionDenied = 4;
    public const int NotFound = 5;
    public const int Unavailable = 6;
    public const int OtherError = 7;

    public static int From(StatusCode status) => status switch
    {
        StatusCode.Unauthenticated => Unauthenticated,
        StatusCode.PermissionDenied => PermissionDenied,
        StatusCode.NotFound => NotFound,
        StatusCode.Unavailable or StatusCode.DeadlineExceeded => Unavailable,
        StatusCode.InvalidArgument => Usage,
        _ => OtherError,
    };
}
