using JitBroker.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace JitBroker.Policy;

/// <summary>Registers the policy engine.</summary>
public static class PolicyServiceCollectionExtensions
{
    /// <summary>
    /// Registers <paramref name="options"/>, <see cref="IPolicyEngine"/> and <see cref="IDelegationPolicy"/>; both resolve
    /// to the same engine instance, so credential rules and delegations always come from one policy version. When
    /// <see cref="PolicyOptions.UsesReloadingEngine"/> (a directory, or a positive <see cref="PolicyOptions.ReloadInterval"/>)
    /// the engine is a singleton <see cref="ReloadingPolicyEngine"/>, also resolvable as itself so the host can subscribe
    /// to <see cref="ReloadingPolicyEngine.PolicyReloaded"/>; otherwise a <see cref="YamlPolicyEngine"/> loaded once,
    /// also resolvable as itself.
    /// The engine is built on first resolution and throws <see cref="PolicyLoadException"/> if the policy does not
    /// load — resolve it at start-up to fail fast. Uses the container's <see cref="TimeProvider"/> (for time
    /// conditions and polling) and logging when registered.
    /// </summary>
    /// <exception cref="InvalidOperationException">The options are invalid (all problems are listed).</exception>
    public static IServiceCollection AddJitBrokerPolicy(this IServiceCollection services, PolicyOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Invalid policy options: " + string.Join(" ", problems));
        }

        services.Replace(ServiceDescriptor.Singleton(options));
        if (options.UsesReloadingEngine)
        {
            services.TryAddSingleton(sp => new ReloadingPolicyEngine(
                options.Path,
                options.ReloadInterval,
                sp.GetService<TimeProvider>() ?? TimeProvider.System,
                sp.GetService<ILogger<ReloadingPolicyEngine>>(),
                options.RequireOwners));
            services.Replace(ServiceDescriptor.Singleton<IPolicyEngine>(sp => sp.GetRequiredService<ReloadingPolicyEngine>()));
            services.Replace(ServiceDescriptor.Singleton<IDelegationPolicy>(sp => sp.GetRequiredService<ReloadingPolicyEngine>()));
        }
        else
        {
            services.Replace(ServiceDescriptor.Singleton(sp =>
                YamlPolicyEngine.Load(options.Path, sp.GetService<TimeProvider>() ?? TimeProvider.System, options.RequireOwners)));
            services.Replace(ServiceDescriptor.Singleton<IPolicyEngine>(sp => sp.GetRequiredService<YamlPolicyEngine>()));
            services.Replace(ServiceDescriptor.Singleton<IDelegationPolicy>(sp => sp.GetRequiredService<YamlPolicyEngine>()));
        }

        return services;
    }
}
