using Microsoft.Extensions.Logging;

namespace JitBroker.WebConsole;

/// <summary>The console's log events (ids 4400-4449; 4450-4499 belong to the operations pages). Principals only, never a token.</summary>
internal static partial class ConsoleLog
{
    [LoggerMessage(EventId = 4400, EventName = "ConsoleSignedIn", Level = LogLevel.Information,
        Message = "Console sign-in of {Principal} with roles [{Roles}]")]
    public static partial void SignedIn(ILogger logger, string principal, string roles);

    [LoggerMessage(EventId = 4401, EventName = "ConsoleSignInFailed", Level = LogLevel.Warning,
        Message = "Console sign-in failed at the OpenID provider's callback")]
    public static partial void SignInFailed(ILogger logger, Exception? exception);

    [LoggerMessage(EventId = 4402, EventName = "ConsoleApprovalDecided", Level = LogLevel.Information,
        Message = "Approval {ApprovalId} {Decision} by {Principal} on the console")]
    public static partial void ApprovalDecided(ILogger logger, string approvalId, string decision, string principal);

    [LoggerMessage(EventId = 4403, EventName = "ConsoleDecisionRefused", Level = LogLevel.Warning,
        Message = "Approval {ApprovalId}: decision by {Principal} refused ({Reason})")]
    public static partial void DecisionRefused(ILogger logger, string approvalId, string principal, string reason);

    [LoggerMessage(EventId = 4404, EventName = "ConsoleAntiforgeryRejected", Level = LogLevel.Warning,
        Message = "Console POST to {Path} without a valid anti-forgery token refused")]
    public static partial void AntiforgeryRejected(ILogger logger, string path);

    [LoggerMessage(EventId = 4405, EventName = "ConsoleRequestFailed", Level = LogLevel.Error,
        Message = "Console request to {Path} failed; answered 503")]
    public static partial void RequestFailed(ILogger logger, string path, Exception exception);
}
