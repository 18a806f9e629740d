namespace JitBroker.Vault.Auth;

/// <summary>A Vault token the broker logged in with, and what Vault said about its lifetime. Holds a token: <see cref="ToString"/> redacts it.</summary>
public sealed class VaultLogin
{
    public VaultLogin(string token, TimeSpan ttl, bool renewable)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        Token = token;
        Ttl = ttl < TimeSpan.Zero ? TimeSpan.Zero : ttl;
        Renewable = renewable;
    }

    public string Token { get; }

    /// <summary>Time to live at login; <see cref="TimeSpan.Zero"/> means the token does not expire (root tokens).</summary>
    public TimeSpan Ttl { get; }

    public bool Renewable { get; }

    public override string ToString() => $"VaultLogin(ttl={Ttl.TotalSeconds:0}s, renewable={Renewable})";
}

/// <summary>
/// One way for the broker to obtain its own Vault token. Implementations read their credentials from files at every
/// login (files rotate: projected service-account tokens, re-issued AppRole secret ids, re-written token files) and
/// never keep them longer than the login call.
/// </summary>
public interface IVaultAuth
{
    /// <summary>Method name for logs: <c>token</c>, <c>approle</c>, <c>kubernetes</c>, <c>jwt</c>.</summary>
    string Method { get; }

    /// <summary>
    /// Logs in. Throws <see cref="VaultException"/>: <see cref="VaultErrorKind.Unavailable"/> when Vault cannot be
    /// reached, <see cref="VaultErrorKind.LoginFailed"/> when the credentials or their files are bad.
    /// </summary>
    Task<VaultLogin> LoginAsync(VaultHttpClient client, CancellationToken cancellationToken = default);

    /// <summary>True when the credential source changed since the last login (a re-written token file), so the next call should log in again.</summary>
    bool HasChangedSinceLogin();
}
