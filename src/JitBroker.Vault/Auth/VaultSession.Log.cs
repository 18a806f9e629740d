using Microsoft.Extensions.Logging;

namespace JitBroker.Vault.Auth;

/// <summary>Log messages of <see cref="VaultSession"/> (EventIds 6101–6199). Never a token.</summary>
public sealed partial class VaultSession
{
    [LoggerMessage(EventId = 6101, EventName = "VaultLoggedIn", Level = LogLevel.Information,
        Message = "Logged in to Vault with {Method}: token TTL {TtlSeconds}s, renewable {Renewable}")]
    private static partial void LogLoggedIn(ILogger logger, string method, double ttlSeconds, bool renewable);

    [LoggerMessage(EventId = 6102, EventName = "VaultTokenRenewed", Level = LogLevel.Debug,
        Message = "Renewed the broker's Vault token: TTL {TtlSeconds}s")]
    private static partial void LogRenewed(ILogger logger, double ttlSeconds);

    [LoggerMessage(EventId = 6103, EventName = "VaultRenewRefused", Level = LogLevel.Warning,
        Message = "Vault refused to renew the broker's token; logging in again")]
    private static partial void LogRenewRefused(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 6104, EventName = "VaultRetryAfterRelogin", Level = LogLevel.Warning,
        Message = "Vault refused {Operation} with 403; logging in again and retrying once")]
    private static partial void LogRetryingAfterRelogin(ILogger logger, string operation);

    [LoggerMessage(EventId = 6105, EventName = "VaultCredentialChanged", Level = LogLevel.Information,
        Message = "The broker's {Method} credential changed; logging in again")]
    private static partial void LogCredentialChanged(ILogger logger, string method);

    [LoggerMessage(EventId = 6106, EventName = "VaultBackgroundRefreshFailed", Level = LogLevel.Warning,
        Message = "Refreshing the broker's Vault token failed; will retry")]
    private static partial void LogBackgroundRefreshFailed(ILogger logger, Exception exception);
}
