namespace JitBroker.Vault;

/// <summary>How the broker logs in to Vault itself.</summary>
public enum VaultAuthMethod
{
    /// <summary>A Vault token read from a file (re-read whenever the file changes).</summary>
    Token,
    /// <summary>AppRole: <c>role_id</c> and <c>secret_id</c> read from files.</summary>
    AppRole,
    /// <summary>Kubernetes auth with the broker's own (projected) service-account token.</summary>
    Kubernetes,
    /// <summary>JWT/OIDC auth with a JWT read from a file (for example a projected service-account token).</summary>
    Jwt,
}

/// <summary>The broker's own Vault login. Only paths are configured: no secret ever sits in configuration.</summary>
public sealed class VaultAuthOptions
{
    public VaultAuthMethod Method { get; set; } = VaultAuthMethod.Token;

    /// <summary>Token method: file holding the Vault token.</summary>
    public string? TokenPath { get; set; }

    /// <summary>AppRole: file holding the <c>role_id</c>.</summary>
    public string? RoleIdPath { get; set; }

    /// <summary>AppRole: file holding the <c>secret_id</c>.</summary>
    public string? SecretIdPath { get; set; }

    /// <summary>Kubernetes / JWT: the Vault role to log in as (JWT: empty means the mount's default role).</summary>
    public string? Role { get; set; }

    /// <summary>Kubernetes / JWT: the broker's service-account token, re-read at every login because projected tokens rotate.</summary>
    public string? ServiceAccountTokenPath { get; set; } = "/var/run/secrets/kubernetes.io/serviceaccount/token";

    /// <summary>Mount path of the auth method; defaults to <c>approle</c>, <c>kubernetes</c> or <c>jwt</c>.</summary>
    public string? MountPath { get; set; }

    /// <summary>The mount path actually used.</summary>
    public string EffectiveMountPath => string.IsNullOrWhiteSpace(MountPath)
        ? Method switch
        {
            VaultAuthMethod.AppRole => "approle",
            VaultAuthMethod.Kubernetes => "kubernetes",
            VaultAuthMethod.Jwt => "jwt",
            _ => "token",
        }
        : MountPath.Trim('/');
}

/// <summary>Configuration of the Vault component. Validate with <see cref="Validate"/> at start-up.</summary>
public sealed class VaultOptions
{
    /// <summary>Where the host binds these options; every validation message names its key under this path.</summary>
    public const string SectionPath = "JitBroker:Vault";

    /// <summary>Vault's address, for example <c>https://vault.example:8200</c> (no <c>/v1</c>).</summary>
    public Uri? Address { get; set; }

    /// <summary>Vault Enterprise namespace sent as <c>X-Vault-Namespace</c> (optional).</summary>
    public string? Namespace { get; set; }

    /// <summary>PEM bundle of CA certificates; when set, Vault's certificate must chain to one of them (and only them).</summary>
    public string? CaCertificatePath { get; set; }

    /// <summary>Per-request timeout.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    public VaultAuthOptions Auth { get; set; } = new();

    /// <summary>
    /// vault-secret: path prefixes a credential template may read, for example <c>database/creds/</c>. Empty means
    /// no path is allowed (fail closed).
    /// </summary>
    public IList<string> AllowedSecretPathPrefixes { get; set; } = [];

    /// <summary>
    /// vault-token without a role: create orphan tokens through <c>auth/token/create-orphan</c> instead of children of
    /// the broker's token. Default false: children die with the broker's token (a useful kill switch), and the broker
    /// keeps its own token alive for at least the child's TTL before creating it. See docs/vault.md.
    /// </summary>
    public bool CreateOrphanTokens { get; set; }

    /// <summary>
    /// vault-token: the token role (<c>auth/token/create/&lt;role&gt;</c>) for templates that name none. With it set the
    /// broker never calls plain <c>auth/token/create</c>, so its Vault policy needs only the role paths (docs/vault.md).
    /// </summary>
    public string? DefaultTokenRole { get; set; }

    /// <summary>
    /// Production profile: a plain <c>http</c> <see cref="Address"/> is allowed because a service mesh encrypts the hop.
    /// Off by default (the production profile requires https); when on, the broker logs a warning at every start.
    /// </summary>
    public bool CleartextBehindMesh { get; set; }

    /// <summary>Renew the broker's token when this fraction of its TTL has passed.</summary>
    public double RenewAtFractionOfTtl { get; set; } = 2.0 / 3.0;

    /// <summary>Every problem with the options, empty when they are usable.</summary>
    public IEnumerable<string> Validate()
    {
        if (Address is null)
        {
            yield return $"{SectionPath}:Address is required.";
        }
        else if (!Address.IsAbsoluteUri || (Address.Scheme != Uri.UriSchemeHttps && Address.Scheme != Uri.UriSchemeHttp))
        {
            yield return $"{SectionPath}:Address must be an absolute http(s) URI.";
        }
        else if (Address.AbsolutePath.TrimEnd('/').Length > 0)
        {
            yield return $"{SectionPath}:Address must not contain a path (the client adds /v1/).";
        }

        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromMinutes(5))
        {
            yield return $"{SectionPath}:Timeout must be between 0 and 5 minutes.";
        }

        if (RenewAtFractionOfTtl is <= 0.1 or >= 0.95)
        {
            yield return $"{SectionPath}:RenewAtFractionOfTtl must be between 0.1 and 0.95.";
        }

        if (CaCertificatePath is { Length: > 0 } ca && Address?.Scheme == Uri.UriSchemeHttp)
        {
            yield return $"{SectionPath}:CaCertificatePath ('{ca}') is set but {SectionPath}:Address is plain http.";
        }

        if (DefaultTokenRole is { } role && !VaultPaths.IsRoleName(role))
        {
            yield return $"{SectionPath}:DefaultTokenRole '{role}' is not a valid token role name.";
        }

        foreach (var problem in ValidateAuth())
        {
            yield return problem;
        }

        foreach (var prefix in AllowedSecretPathPrefixes)
        {
            if (!VaultPaths.IsWellFormed(prefix.TrimEnd('/')))
            {
                yield return $"{SectionPath}:AllowedSecretPathPrefixes entry '{prefix}' is not a valid relative Vault path.";
            }
        }
    }

    private IEnumerable<string> ValidateAuth()
    {
        var auth = Auth;
        switch (auth.Method)
        {
            case VaultAuthMethod.Token:
                if (string.IsNullOrWhiteSpace(auth.TokenPath))
                {
                    yield return $"{SectionPath}:Auth:TokenPath is required for the token method.";
                }

                break;
            case VaultAuthMethod.AppRole:
                if (string.IsNullOrWhiteSpace(auth.RoleIdPath) || string.IsNullOrWhiteSpace(auth.SecretIdPath))
                {
                    yield return $"{SectionPath}:Auth:RoleIdPath and {SectionPath}:Auth:SecretIdPath are required for the approle method.";
                }

                break;
            case VaultAuthMethod.Kubernetes or VaultAuthMethod.Jwt:
                if (string.IsNullOrWhiteSpace(auth.ServiceAccountTokenPath))
                {
                    yield return $"{SectionPath}:Auth:ServiceAccountTokenPath is required for the kubernetes and jwt methods.";
                }

                if (auth.Method == VaultAuthMethod.Kubernetes && string.IsNullOrWhiteSpace(auth.Role))
                {
                    yield return $"{SectionPath}:Auth:Role is required for the kubernetes method.";
                }

                break;
            default:
                yield return $"{SectionPath}:Auth:Method '{auth.Method}' is not supported.";
                break;
        }

        if (auth.MountPath is { Length: > 0 } mount && !VaultPaths.IsWellFormed(mount.Trim('/')))
        {
            yield return $"{SectionPath}:Auth:MountPath '{mount}' is not a valid relative Vault path.";
        }
    }
}
