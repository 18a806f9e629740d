namespace JitBroker.Vault.Auth;

/// <summary>
/// Auth methods that trade a credential for a token at <c>POST auth/&lt;mount&gt;/login</c>: AppRole
/// (<c>role_id</c>, <c>secret_id</c>; api-docs/auth/approle.mdx "Login with AppRole"), Kubernetes
/// (<c>role</c>, <c>jwt</c>; api-docs/auth/kubernetes.mdx "Login") and JWT (<c>role</c>, <c>jwt</c>;
/// api-docs/auth/jwt.mdx "JWT Login"). Credential files are re-read at every login: projected service-account
/// tokens rotate, and a stale one would be refused.
/// </summary>
public sealed class LoginEndpointAuth : IVaultAuth
{
    private readonly VaultAuthMethod _method;
    private readonly string _loginPath;
    private readonly string? _role;
    private readonly CredentialFile _first;
    private readonly CredentialFile? _second;

    private LoginEndpointAuth(VaultAuthMethod method, string mountPath, string? role, CredentialFile first, CredentialFile? second)
    {
        _method = method;
        _loginPath = $"auth/{mountPath.Trim('/')}/login";
        _role = role;
        _first = first;
        _second = second;
    }

    public static LoginEndpointAuth AppRole(string roleIdPath, string secretIdPath, string mountPath = "approle") =>
        new(VaultAuthMethod.AppRole, mountPath, null, new CredentialFile(roleIdPath, "AppRole role_id"), new CredentialFile(secretIdPath, "AppRole secret_id"));

    public static LoginEndpointAuth Kubernetes(string role, string serviceAccountTokenPath, string mountPath = "kubernetes") =>
        new(VaultAuthMethod.Kubernetes, mountPath, role, new CredentialFile(serviceAccountTokenPath, "service-account token"), null);

    public static LoginEndpointAuth Jwt(string? role, string jwtPath, string mountPath = "jwt") =>
        new(VaultAuthMethod.Jwt, mountPath, string.IsNullOrWhiteSpace(role) ? null : role, new CredentialFile(jwtPath, "JWT"), null);

    public string Method => _method switch
    {
        VaultAuthMethod.AppRole => "approle",
        VaultAuthMethod.Kubernetes => "kubernetes",
        _ => "jwt",
    };

    public async Task<VaultLogin> LoginAsync(VaultHttpClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        var operation = "POST " + _loginPath;
        VaultReply reply;
        try
        {
            reply = _method == VaultAuthMethod.AppRole
                ? await client.SendAsync(HttpMethod.Post, _loginPath,
                    new AppRoleLoginRequest { RoleId = _first.Read(operation), SecretId = _second!.Read(operation) },
                    VaultJsonContext.Default.AppRoleLoginRequest, null, cancellationToken).ConfigureAwait(false)
                : await client.SendAsync(HttpMethod.Post, _loginPath,
                    new JwtLoginRequest { Role = _role, Jwt = _first.Read(operation) },
                    VaultJsonContext.Default.JwtLoginRequest, null, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException e) when (!e.IsRetryable && e.Kind != VaultErrorKind.LoginFailed)
        {
            // 400 "invalid role or secret ID", 403 "permission denied" (a rejected JWT), 404 (no such mount).
            throw new VaultException(VaultErrorKind.LoginFailed, e.Operation, e.StatusCode, e.VaultErrors,
                $"The broker's {Method} login was refused; check the role and the credential files.", e);
        }

        var auth = reply.Body?.Auth;
        if (auth?.ClientToken is not { Length: > 0 } token)
        {
            throw new VaultException(VaultErrorKind.UnexpectedResponse, operation, reply.StatusCode, [], "The login response carries no auth.client_token.");
        }

        return new VaultLogin(token, TimeSpan.FromSeconds(auth.LeaseDuration), auth.Renewable);
    }

    // Login credentials are read afresh at every login anyway; a change is no reason to drop a working token.
    public bool HasChangedSinceLogin() => false;
}
