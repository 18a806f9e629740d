using JitBroker.Core;

namespace JitBroker.Vault.Issuers;

/// <summary>
/// Turns <see cref="VaultException"/>s into what the broker's callers see. Agents get a stable reason and a message
/// that names the Vault path and what the operator must do, never a token or secret; the Vault detail stays on the
/// inner exception for the logs.
/// </summary>
internal static class VaultFailures
{
    public static BrokerException ForIssue(VaultException e, string path) => e.Kind switch
    {
        VaultErrorKind.Unavailable => new BrokerException(BrokerFailure.Unavailable, Reasons.Vault.Unavailable,
            $"Vault is unavailable{Status(e)}; no credential was issued. Retry later.", e),
        VaultErrorKind.PermissionDenied => new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Vault.PermissionDenied,
            $"Vault denied the broker access to '{path}'. An operator must grant the broker's Vault policy the needed capability on that path.", e),
        VaultErrorKind.LoginFailed => new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Vault.LoginFailed,
            "The broker could not log in to Vault; an operator must check the broker's Vault auth configuration.", e),
        VaultErrorKind.NotFound => new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Vault.RequestRejected,
            $"Vault has no '{path}' the broker may use (404: the path does not exist, or the broker may not see it).", e),
        VaultErrorKind.InvalidRequest or VaultErrorKind.UnsupportedOperation => new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Vault.RequestRejected,
            $"Vault rejected the request to '{path}'{Status(e)}{FirstError(e)}; an operator must check the credential template and the Vault role.", e),
        _ => new BrokerException(BrokerFailure.Internal, Reasons.Vault.UnexpectedResponse,
            $"Vault gave an unexpected answer for '{path}'.", e),
    };

    public static BrokerException ForRenew(VaultException e, string path) =>
        e.Kind == VaultErrorKind.InvalidRequest
            // sys/leases/renew: 400 "lease not found or lease is not renewable", "lease expired", "lease is not
            // renewable"; auth/token/renew-accessor: 400 "invalid accessor" or "lease is not renewable".
            ? new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Vault.NotRenewable,
                $"Vault cannot renew this credential{FirstError(e)}.", e)
            : ForIssue(e, path);

    /// <summary>A safe one-line error for a lease's last error and the revoke_failed view.</summary>
    public static RevocationResult RevokeFailed(VaultException e) => RevocationResult.Failed(e.Message);

    private static string Status(VaultException e) => e.StatusCode is { } s ? $" ({s})" : " (no response)";

    private static string FirstError(VaultException e) => e.VaultErrors.Count > 0 ? $": {e.VaultErrors[0]}" : "";

    public static BrokerException TemplateInvalid(string message) =>
        new(BrokerFailure.FailedPrecondition, Reasons.Vault.TemplateInvalid, message);
}
