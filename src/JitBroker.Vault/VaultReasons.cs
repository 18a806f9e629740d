namespace JitBroker.Vault;

/// <summary>Stable reason codes raised by the Vault issuers (see <see cref="JitBroker.Core.BrokerException.Reason"/>).</summary>
public static class VaultReasons
{
    /// <summary>Vault is down, sealed, a standby, rate limiting or timing out: retry later (UNAVAILABLE).</summary>
    public const string Unavailable = "vault.unavailable";
    /// <summary>Vault refused the broker's token on a path: the operator must fix the broker's Vault policy.</summary>
    public const string PermissionDenied = "vault.permission_denied";
    /// <summary>The broker could not log in to Vault (credentials, role, files).</summary>
    public const string LoginFailed = "vault.login_failed";
    /// <summary>Vault rejected the request (bad token role, bad parameters, path not found).</summary>
    public const string RequestRejected = "vault.request_rejected";
    /// <summary>The credential template's Vault parameters are missing or malformed.</summary>
    public const string TemplateInvalid = "vault.template_invalid";
    /// <summary>The template's secret path is not under an allowed prefix.</summary>
    public const string PathNotAllowed = "vault.path_not_allowed";
    /// <summary>The path returned a secret without a lease: the broker could not revoke it, so it is not handed out.</summary>
    public const string SecretNotLeased = "vault.secret_not_leased";
    /// <summary>Vault created a token without an accessor (a batch token): it cannot be revoked, so it is not handed out.</summary>
    public const string TokenNotRevocable = "vault.token_not_revocable";
    /// <summary>The credential cannot be renewed (not renewable, expired or unknown at Vault).</summary>
    public const string NotRenewable = "vault.not_renewable";
    /// <summary>Vault answered something the client does not understand.</summary>
    public const string UnexpectedResponse = "vault.unexpected_response";
}
