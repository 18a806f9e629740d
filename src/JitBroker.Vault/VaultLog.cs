using Microsoft.Extensions.Logging;

namespace JitBroker.Vault;

/// <summary>Log messages shared by the Vault issuers.</summary>
internal static partial class VaultLog
{
    /// <summary>
    /// Vault's <c>warnings</c> (for example "Policy \"web\" does not exist", or a TTL capped by a max TTL) tell the
    /// operator about a template or role mistake that did not fail the call. Sanitized like error strings.
    /// </summary>
    public static void Warnings(ILogger logger, string path, IReadOnlyList<string>? warnings)
    {
        if (warnings is null)
        {
            return;
        }

        foreach (var warning in warnings.Take(10))
        {
            if (!string.IsNullOrWhiteSpace(warning))
            {
                LogWarning(logger, path, VaultException.Sanitize(warning));
            }
        }
    }

    [LoggerMessage(EventId = 6301, EventName = "VaultWarning", Level = LogLevel.Warning,
        Message = "Vault warned about {Path}: {Warning}")]
    private static partial void LogWarning(ILogger logger, string path, string warning);
}
