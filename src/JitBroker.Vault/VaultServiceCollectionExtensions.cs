using JitBroker.Core;
using JitBroker.Vault.Auth;
using JitBroker.Vault.Issuers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace JitBroker.Vault;

/// <summary>Readiness of Vault for <c>/readyz</c>.</summary>
public sealed class VaultReadiness(VaultHttpClient client)
{
    /// <summary>True when <c>sys/health</c> reports an unsealed active node or a forwarding standby. Never throws for Vault failures.</summary>
    public Task<bool> IsReachableAsync(CancellationToken cancellationToken = default) => client.IsReachableAsync(cancellationToken);
}

/// <summary>Registers the Vault component.</summary>
public static class VaultServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="VaultHttpClient"/>, the broker's <see cref="IVaultAuth"/> and <see cref="VaultSession"/>,
    /// <see cref="VaultTokenIssuer"/> (<c>vault-token</c>) and <see cref="VaultSecretIssuer"/> (<c>vault-secret</c>) as
    /// <see cref="ICredentialIssuer"/>s, and <see cref="VaultReadiness"/>. Uses the container's
    /// <see cref="TimeProvider"/> (system clock when none is registered); the host registers logging. Nothing contacts Vault until the
    /// first credential is requested.
    /// </summary>
    /// <exception cref="InvalidOperationException">The options are invalid (all problems are listed).</exception>
    public static IServiceCollection AddJitBrokerVault(this IServiceCollection services, VaultOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Invalid Vault options: " + string.Join(" ", problems));
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        services.AddSingleton(sp => new VaultHttpClient(options, sp.GetRequiredService<ILogger<VaultHttpClient>>()));
        services.AddSingleton(_ => CreateAuth(options.Auth));
        services.AddSingleton(sp => new VaultSession(
            sp.GetRequiredService<VaultHttpClient>(), sp.GetRequiredService<IVaultAuth>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<VaultSession>>(), options.RenewAtFractionOfTtl));
        services.AddSingleton<VaultTokenIssuer>();
        services.AddSingleton<VaultSecretIssuer>();
        services.AddSingleton<ICredentialIssuer>(sp => sp.GetRequiredService<VaultTokenIssuer>());
        services.AddSingleton<ICredentialIssuer>(sp => sp.GetRequiredService<VaultSecretIssuer>());
        services.AddSingleton<VaultReadiness>();
        return services;
    }

    /// <summary>The <see cref="IVaultAuth"/> for validated auth options.</summary>
    public static IVaultAuth CreateAuth(VaultAuthOptions auth)
    {
        ArgumentNullException.ThrowIfNull(auth);
        var mount = auth.EffectiveMountPath;
        return auth.Method switch
        {
            VaultAuthMethod.Token => new TokenFileAuth(auth.TokenPath!),
            VaultAuthMethod.AppRole => LoginEndpointAuth.AppRole(auth.RoleIdPath!, auth.SecretIdPath!, mount),
            VaultAuthMethod.Kubernetes => LoginEndpointAuth.Kubernetes(auth.Role!, auth.ServiceAccountTokenPath!, mount),
            VaultAuthMethod.Jwt => LoginEndpointAuth.Jwt(auth.Role, auth.ServiceAccountTokenPath!, mount),
            _ => throw new InvalidOperationException($"Vault auth method '{auth.Method}' is not supported."),
        };
    }
}
