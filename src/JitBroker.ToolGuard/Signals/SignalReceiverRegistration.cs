using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;

namespace JitBroker.ToolGuard;

public static class SignalReceiverEndpointExtensions
{
    /// <summary>
    /// Serves the RFC 8935 push endpoint at <see cref="SignalReceiverOptions.Path"/> when <c>Signals:Enabled</c>. Anonymous
    /// on purpose: a SET authenticates itself by the broker's signature, which every push is checked against.
    /// </summary>
    public static IEndpointConventionBuilder? MapJitBrokerSignalReceiver(this IEndpointRouteBuilder endpoints)
    {
        var o = endpoints.ServiceProvider.GetRequiredService<IOptions<ToolGuardOptions>>().Value;
        return o.Signals.Enabled
            ? endpoints.MapPost(o.Signals.Path, (HttpContext http) => http.RequestServices.GetRequiredService<SignalReceiverEndpoint>().HandleAsync(http)).AllowAnonymous()
            : null;
    }
}

/// <summary>The receiver's services (registered by <c>AddJitBrokerToolGuard</c>; idle unless <c>Signals:Enabled</c>).</summary>
internal static class SignalReceiverRegistration
{
    public static void Add(IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<ToolGuardOptions>, SignalReceiverOptionsValidator>();
        services.AddSingleton<PushHealth>();
        services.AddSingleton<SubjectRevocations>();
        services.AddSingleton<SetVerifier>();
        services.AddSingleton<SignalReceiverEndpoint>();
        services.AddSingleton<StreamSubscription>();
        services.AddHostedService(sp => sp.GetRequiredService<StreamSubscription>());
    }

    internal static string? Validate(ToolGuardOptions o)
    {
        var s = o.Signals;
        if (!s.Enabled)
        {
            return null;
        }

        if (o.WorkloadToken is null)
        {
            return "ToolGuard:Signals needs WorkloadToken (the tool subscribes at the broker with its own workload identity)";
        }

        if (!s.Path.StartsWith('/') || s.MaxSetAge <= TimeSpan.Zero || s.MaxSetBytes is < 1024 or > 1024 * 1024 || s.ReplayCacheSize <= 0
            || s.MaxRevokedSubjects <= 0 || s.RevocationRetention <= TimeSpan.Zero || s.VerificationInterval < TimeSpan.FromSeconds(1)
            || s.IntrospectionCacheWhilePushHealthy < TimeSpan.Zero)
        {
            return "ToolGuard:Signals: Path must start with '/', MaxSetAge/RevocationRetention positive, MaxSetBytes 1 KiB-1 MiB, ReplayCacheSize/MaxRevokedSubjects positive, VerificationInterval >= 1 s";
        }

        return s.Audiences.Any(a => !Uri.TryCreate(a, UriKind.Absolute, out _)) || (s.ConfigurationUrl is { } c && !Uri.TryCreate(c, UriKind.Absolute, out _))
            ? "ToolGuard:Signals: Audiences and ConfigurationUrl must be absolute URIs"
            : null;
    }

    private sealed class SignalReceiverOptionsValidator : IValidateOptions<ToolGuardOptions>
    {
        public ValidateOptionsResult Validate(string? name, ToolGuardOptions options) =>
            SignalReceiverRegistration.Validate(options) is { } error ? ValidateOptionsResult.Fail(error) : ValidateOptionsResult.Success;
    }
}

/// <summary>The revocation list's check on a validated token: its jti (introspection or a per-credential push), or its subject and iat (a subject-level push).</summary>
internal static class PushedRevocations
{
    public static bool IsRevoked(IServiceProvider services, JsonWebToken token, string? jti) =>
        (jti is not null && services.GetRequiredService<IRevocationSignal>().IsRevoked(jti))
        || services.GetRequiredService<SubjectRevocations>().IsRevoked(token.Subject is { Length: > 0 } sub ? sub : null,
            token.TryGetPayloadValue<long>("iat", out var iat) ? DateTimeOffset.FromUnixTimeSeconds(iat) : null);
}
