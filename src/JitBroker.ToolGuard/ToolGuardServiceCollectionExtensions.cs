using System.Net;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using JitBroker.OAuth;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace JitBroker.ToolGuard;

public static class ToolGuardServiceCollectionExtensions
{
    /// <summary>
    /// Protects this server with JitBroker credentials: the <see cref="ToolGuardDefaults.AuthenticationScheme"/> JwtBearer
    /// scheme (the default scheme), intent authorization, the DPoP replay cache, the revocation list, introspection and
    /// the use-report sender. Then <c>app.UseAuthentication(); app.UseAuthorization();</c> and
    /// <c>app.MapJitBrokerProtectedResourceMetadata();</c>.
    /// </summary>
    public static IServiceCollection AddJitBrokerToolGuard(this IServiceCollection services, Action<ToolGuardOptions> configure)
    {
        services.AddOptions<ToolGuardOptions>().Configure(configure).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ToolGuardOptions>, ToolGuardOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IRevocationSignal, RevocationSignal>();
        services.AddSingleton<DpopReplayCache>();
        // Keyed, so the host's own IDpopReplayStore (if any) is not taken for ours, and one registered before wins.
        services.TryAddKeyedSingleton<IDpopReplayStore>(ToolGuardDefaults.AuthenticationScheme, (sp, _) =>
            sp.GetRequiredService<IOptions<ToolGuardOptions>>().Value.DpopReplayCache == DpopReplayCacheMode.Distributed
                ? ActivatorUtilities.CreateInstance<DistributedDpopReplayStore>(sp)
                : sp.GetRequiredService<DpopReplayCache>());
        services.AddSingleton<SenderConstraint>();
        services.AddSingleton<IntrospectionCheck>();
        services.AddSingleton<UseReporter>();
        services.AddSingleton<IUseReporter>(sp => sp.GetRequiredService<UseReporter>());
        services.AddSingleton<UseRecorder>();
        services.AddHostedService<UseReportSender>();
        SignalReceiverRegistration.Add(services);
        services.AddHttpClient(UseReportSender.HttpClientName);
        services.AddMetrics();
        services.AddSingleton<IAuthorizationHandler, IntentAuthorizationHandler>();
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, ToolGuardResultHandler>();
        services.AddAuthorization();
        services.AddAuthentication(ToolGuardDefaults.AuthenticationScheme).AddJwtBearer(ToolGuardDefaults.AuthenticationScheme, _ => { });
        services.AddOptions<JwtBearerOptions>(ToolGuardDefaults.AuthenticationScheme).Configure<IOptions<ToolGuardOptions>>((bearer, guard) =>
            ConfigureBearer(bearer, guard.Value));
        return services;
    }

    private static void ConfigureBearer(JwtBearerOptions bearer, ToolGuardOptions o)
    {
        bearer.Authority = o.Issuer;
        bearer.Audience = o.Resource;
        bearer.MapInboundClaims = false;
        bearer.RequireHttpsMetadata = !(o.AllowInsecureHttpForLoopback && IsLoopback(o.Issuer));
        bearer.SaveToken = false;
        bearer.IncludeErrorDetails = false; // our challenge says what failed, with a stable reason
        bearer.Events = new ToolGuardEvents();
        var tvp = bearer.TokenValidationParameters;
        tvp.ValidIssuer = o.Issuer;
        tvp.ValidAudience = o.Resource;
        tvp.ValidateIssuer = tvp.ValidateAudience = tvp.ValidateLifetime = tvp.ValidateIssuerSigningKey = true;
        tvp.RequireExpirationTime = tvp.RequireSignedTokens = true;
        tvp.ValidTypes = ["at+jwt"]; // RFC 9068 §4: refuse ID tokens and JWT-SVIDs that share the key
        tvp.ClockSkew = o.ClockSkew;
        tvp.AuthenticationType = ToolGuardDefaults.AuthenticationScheme;
        tvp.NameClaimType = "sub";
    }

    internal static bool IsLoopback(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.IsLoopback || (IPAddress.TryParse(uri.Host, out var ip) && IPAddress.IsLoopback(ip)));

    internal static string? Validate(ToolGuardOptions o)
    {
        if (!Uri.TryCreate(o.Issuer, UriKind.Absolute, out var issuer) || issuer.Scheme is not ("https" or "http"))
        {
            return "ToolGuard:Issuer must be an absolute http(s) URL";
        }

        if (issuer.Scheme == "http" && !(o.AllowInsecureHttpForLoopback && IsLoopback(o.Issuer)))
        {
            return "ToolGuard:Issuer must be https (http only for a loopback issuer with AllowInsecureHttpForLoopback)";
        }

        if (!Uri.TryCreate(o.Resource, UriKind.Absolute, out var resource) || resource.Fragment.Length > 0)
        {
            return "ToolGuard:Resource must be an absolute URI without a fragment (RFC 8707)";
        }

        if (o.PublicBaseUrl is not null && (!Uri.TryCreate(o.PublicBaseUrl, UriKind.Absolute, out var publicBase) || publicBase.Scheme is not ("https" or "http")))
        {
            return "ToolGuard:PublicBaseUrl must be an absolute http(s) URL";
        }

        if (o.ClockSkew < TimeSpan.Zero || o.ClockSkew > TimeSpan.FromMinutes(5) || o.DpopMaxProofAge <= TimeSpan.Zero || o.DpopReplayCacheSize <= 0)
        {
            return "ToolGuard: ClockSkew must be 0-5 min, DpopMaxProofAge positive, DpopReplayCacheSize positive";
        }

        if ((o.Introspection.Enabled || o.UseReports.Enabled) && o.WorkloadToken is null)
        {
            return "ToolGuard: WorkloadToken is required for introspection and use reports (the tool's own JWT-SVID for the broker)";
        }

        if (o.Introspection.CacheDuration < TimeSpan.Zero || o.Introspection.MaxCacheEntries <= 0 || o.Introspection.Timeout <= TimeSpan.Zero)
        {
            return "ToolGuard:Introspection: CacheDuration must be >= 0, MaxCacheEntries and Timeout positive";
        }

        return o.UseReports.BufferSize <= 0 || o.UseReports.BatchSize is <= 0 or > 500 || o.UseReports.FlushInterval <= TimeSpan.Zero
            ? "ToolGuard:UseReports: BufferSize positive, BatchSize 1-500, FlushInterval positive"
            : null;
    }

    private sealed class ToolGuardOptionsValidator(IServiceProviderIsService services) : IValidateOptions<ToolGuardOptions>
    {
        public ValidateOptionsResult Validate(string? name, ToolGuardOptions options) =>
            ToolGuardServiceCollectionExtensions.Validate(options) is { } error ? ValidateOptionsResult.Fail(error)
            : options.DpopReplayCache == DpopReplayCacheMode.Distributed && !services.IsService(typeof(IDistributedCache))
                ? ValidateOptionsResult.Fail("ToolGuard:DpopReplayCache is Distributed but no IDistributedCache is registered (e.g. AddStackExchangeRedisCache)")
                : ValidateOptionsResult.Success;
    }
}
