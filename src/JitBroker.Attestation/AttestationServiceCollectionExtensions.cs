using JitBroker.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace JitBroker.Attestation;

/// <summary>Registers the configured attestors.</summary>
public static class AttestationServiceCollectionExtensions
{
    /// <summary>
    /// Registers, as <see cref="IWorkloadAttestor"/> singletons, each attestor <paramref name="options"/>
    /// configures, in routing order: X.509-SVID (a client certificate and no token), OIDC (a token whose
    /// <c>iss</c> is a configured issuer), JWT-SVID (a token whose <c>sub</c> is a SPIFFE ID). An explicitly
    /// configured OIDC issuer therefore wins over the JWT-SVID attestor for its tokens (SPIRE's OIDC
    /// discovery provider case). Uses the container's <see cref="TimeProvider"/> (the system clock when none
    /// is registered) and logging when present. The attestors validate their options when first resolved and
    /// are disposed with the container (stopping background bundle refreshes).
    /// </summary>
    public static IServiceCollection AddJitBrokerAttestation(this IServiceCollection services, AttestationOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        services.TryAddSingleton(TimeProvider.System);
        if (options.X509Svid?.IsConfigured() == true)
        {
            services.AddSingleton<IWorkloadAttestor>(sp => new X509SvidAttestor(options.X509Svid, Time(sp), Log<X509SvidAttestor>(sp)));
        }

        if (options.Oidc?.IsConfigured() == true)
        {
            services.AddSingleton<IWorkloadAttestor>(sp =>
            {
                var attestor = new OidcAttestor(options.Oidc, Time(sp), Log<OidcAttestor>(sp));
                return WithCacheMetrics(sp, attestor, attestor.TokenCache);
            });
        }

        if (options.JwtSvid?.IsConfigured() == true)
        {
            services.AddSingleton<IWorkloadAttestor>(sp =>
            {
                var attestor = new JwtSvidAttestor(options.JwtSvid, Time(sp), Log<JwtSvidAttestor>(sp));
                return WithCacheMetrics(sp, attestor, attestor.TokenCache);
            });
        }

        return services;
    }

    /// <summary>Puts the attestor's verified-token cache counters on the broker's meter, when the container has one.</summary>
    private static IWorkloadAttestor WithCacheMetrics(IServiceProvider services, IWorkloadAttestor attestor, VerifiedTokenCache? cache)
    {
        VerifiedTokenCacheMetrics.Register(services.GetService<BrokerMetrics>(), attestor.Method, cache);
        return attestor;
    }

    private static TimeProvider Time(IServiceProvider services) => services.GetRequiredService<TimeProvider>();

    private static ILogger<T> Log<T>(IServiceProvider services) => services.GetService<ILogger<T>>() ?? NullLogger<T>.Instance;
}
