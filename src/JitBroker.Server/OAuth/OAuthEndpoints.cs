using JitBroker.Core;
using JitBroker.Core.Admission;
using JitBroker.Core.Handlers;
using JitBroker.OAuth;

namespace JitBroker.Server.OAuth;

/// <summary>
/// The OAuth 2 front door (docs/oauth.md): metadata, token, introspection and revocation endpoints beside the gRPC
/// services, on the listeners that may carry workload tokens — TLS and mTLS, and the HTTP listener only where it is
/// loopback-embedded or behind a TLS-terminating sidecar (<see cref="ListenerRole.OAuth"/>).
/// </summary>
internal static class OAuthEndpoints
{
    public static void Add(IServiceCollection services, JitBrokerSettings settings)
    {
        if (!settings.OAuth.Enabled)
        {
            return;
        }

        services.AddSingleton(settings.OAuth);
        services.AddSingleton(new OAuthUrls(settings.Issuer.Issuer, settings.OAuth.MtlsBaseUrl));
        services.AddSingleton<IDpopReplayStore, DpopReplayStore>();
        services.AddSingleton(sp => new DpopProofValidator(
            new DpopValidationOptions { MaxProofAge = settings.OAuth.DpopMaxProofAge, ClockSkew = settings.OAuth.DpopClockSkew },
            sp.GetRequiredService<IDpopReplayStore>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<OAuthProofs>();
        services.AddSingleton<ApprovalPolls>();
        services.AddSingleton<OAuthClientAuthentication>();
        services.AddSingleton<OAuthEndpointRunner>();
        services.AddSingleton<RevokeOwnCredentialHandler>();
        services.AddSingleton<TokenEndpoint>();
        services.AddSingleton<IntrospectionEndpoint>();
        services.AddSingleton<RevocationEndpoint>();
        services.AddSingleton<ToolUsesEndpoint>();
    }

    public static void Map(WebApplication app, JitBrokerSettings settings)
    {
        if (!settings.OAuth.Enabled)
        {
            return;
        }

        var urls = app.Services.GetRequiredService<OAuthUrls>();
        var metadata = AuthorizationServerMetadata.Build(urls, mtlsListener: settings.Listen.Mtls is not null);
        IResult Metadata(HttpContext http)
        {
            http.Response.Headers.CacheControl = "public, max-age=300";
            return Results.Text(metadata, "application/json");
        }

        app.MapGet(urls.AuthorizationServerMetadataPath, Metadata).OnlyOn(ListenerRole.OAuth);
        app.MapGet(urls.OpenIdConfigurationPath, Metadata).OnlyOn(ListenerRole.OAuth);
        var token = app.Services.GetRequiredService<TokenEndpoint>();
        var introspection = app.Services.GetRequiredService<IntrospectionEndpoint>();
        var revocation = app.Services.GetRequiredService<RevocationEndpoint>();
        app.MapPost(urls.BasePath + OAuthUrls.TokenPath, token.HandleAsync).OnlyOn(ListenerRole.OAuth);
        app.MapPost(urls.BasePath + OAuthUrls.IntrospectionPath, introspection.HandleAsync).OnlyOn(ListenerRole.OAuth);
        app.MapPost(urls.BasePath + OAuthUrls.RevocationPath, revocation.HandleAsync).OnlyOn(ListenerRole.OAuth);
        // Tools report uses here (issue 19), authenticated like introspection's callers.
        var toolUses = app.Services.GetRequiredService<ToolUsesEndpoint>();
        app.MapPost(urls.BasePath + ToolUsesEndpoint.Path, toolUses.HandleAsync).OnlyOn(ListenerRole.OAuth);
    }
}
