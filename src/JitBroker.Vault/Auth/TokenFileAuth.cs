using System.Text.Json;

namespace JitBroker.Vault.Auth;

/// <summary>
/// The broker's token comes from a file (written by Vault Agent, a CSI driver or an operator). "Login" reads the
/// file and asks <c>GET auth/token/lookup-self</c> for the token's remaining <c>ttl</c> and <c>renewable</c>
/// (api-docs/auth/token.mdx "Lookup a Token (Self)"); the session re-reads the file whenever it changes.
/// </summary>
public sealed class TokenFileAuth : IVaultAuth
{
    private const string LookupSelf = "auth/token/lookup-self";
    private readonly CredentialFile _file;

    public TokenFileAuth(string tokenPath) => _file = new CredentialFile(tokenPath, "Vault token");

    public string Method => "token";

    public async Task<VaultLogin> LoginAsync(VaultHttpClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        var token = _file.Read("GET " + LookupSelf);
        VaultReply reply;
        try
        {
            reply = await client.SendAsync(HttpMethod.Get, LookupSelf, token, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException e) when (!e.IsRetryable)
        {
            throw new VaultException(VaultErrorKind.LoginFailed, e.Operation, e.StatusCode, e.VaultErrors,
                $"The token in '{_file.Path}' was refused by Vault.", e);
        }

        // lookup-self answers data.ttl (seconds left, 0 = never expires) and data.renewable.
        var ttl = 0L;
        var renewable = false;
        if (reply.Body?.Data is { ValueKind: JsonValueKind.Object } data)
        {
            if (data.TryGetProperty("ttl", out var t) && t.ValueKind == JsonValueKind.Number)
            {
                ttl = t.GetInt64();
            }

            renewable = data.TryGetProperty("renewable", out var r) && r.ValueKind == JsonValueKind.True;
        }

        return new VaultLogin(token, TimeSpan.FromSeconds(ttl), renewable);
    }

    public bool HasChangedSinceLogin() => _file.Changed();
}
