using Grpc.Health.V1;
using JitBroker.Attestation;
using JitBroker.Core;
using JitBroker.Issuance;
using JitBroker.Leases;
using JitBroker.Policy;
using JitBroker.Revocation;
using JitBroker.Wire;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace JitBroker.Server;

/// <summary>
/// Composition root: reads and validates settings, wires the components behind their interfaces, and
/// opens the two listeners (h2c gRPC, HTTP/1.1 for JWKS and health).
/// </summary>
public static class BrokerHost
{
    /// <summary>Builds a ready-to-run broker. Throws <see cref="InvalidBrokerConfigurationException"/> on any configuration error.</summary>
    public static WebApplication Build(string[] args, Action<ConfigurationManager>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args });
        configure?.Invoke(builder.Configuration);
        var settings = LoadSettings(builder.Configuration);

        var endpoints = new BoundEndpoints();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(SettingsValidator.ParseEndpoint(settings.Listen.Grpc), o =>
            {
                o.Protocols = HttpProtocols.Http2;
                endpoints.Grpc = o;
            });
            kestrel.Listen(SettingsValidator.ParseEndpoint(settings.Listen.Http), o =>
            {
                o.Protocols = HttpProtocols.Http1;
                endpoints.Http = o;
            });
        });

        AddBrokerServices(builder.Services, settings, endpoints);

        var app = builder.Build();
        var log = app.Services.GetRequiredService<ILogger<BrokerStartup>>();
        BrokerStartup.LogStarting(log, settings.Profile, settings.Leases.Store);
        if (settings.Leases.Store == "memory")
        {
            BrokerStartup.LogInMemoryLeases(log);
        }

        if (settings.IsEmbedded)
        {
            BrokerStartup.LogEmbeddedProfile(log, DevTrustDomain.Name);
        }

        var registry = new GrpcServiceRegistry();
        app.Services.GetRequiredService<CredentialBrokerGrpcService>().Register(registry);
        var health = app.Services.GetRequiredService<GrpcHealthService>();
        health.Register(registry);
        health.SetStatus("", HealthCheckResponse.Types.ServingStatus.Serving);
        health.SetStatus(CredentialBrokerGrpcService.ServiceName, HealthCheckResponse.Types.ServingStatus.Serving);
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            // Tell load balancers first, so no new call lands on a broker that is going away.
            health.SetStatus("", HealthCheckResponse.Types.ServingStatus.NotServing);
            health.SetStatus(CredentialBrokerGrpcService.ServiceName, HealthCheckResponse.Types.ServingStatus.NotServing);
        });
        app.UseGrpcWire(registry, new GrpcServerOptions { MaxReceiveMessageSize = settings.Listen.MaxReceiveMessageSize });
        HttpEndpoints.Map(app);
        return app;
    }

    /// <summary>Binds and validates settings; the embedded profile first creates its dev trust domain.</summary>
    public static JitBrokerSettings LoadSettings(IConfiguration configuration)
    {
        JitBrokerSettings settings;
        try
        {
            settings = configuration.GetSection(JitBrokerSettings.SectionName)
                .Get<JitBrokerSettings>(o => o.ErrorOnUnknownConfiguration = true) ?? new JitBrokerSettings();
        }
        catch (InvalidOperationException ex)
        {
            throw new InvalidBrokerConfigurationException([ex.Message]);
        }

        if (settings.IsEmbedded)
        {
            var devDirectory = Path.Combine(settings.DataDirectory, "dev-trust-domain");
            CreatePrivateDirectory(settings.DataDirectory);
            var dev = DevTrustDomain.LoadOrCreate(devDirectory, TimeProvider.System);
            settings.Attestation.JwtSvid.TrustBundles.TryAdd(DevTrustDomain.Name, dev.BundlePath);
            if (string.IsNullOrWhiteSpace(settings.Issuer.Issuer))
            {
                settings.Issuer.Issuer = "http://" + settings.Listen.Http;
            }
        }

        settings.Policy.Path = ResolveShipped(settings.Policy.Path);
        var errors = SettingsValidator.Validate(settings);
        return errors.Count == 0 ? settings : throw new InvalidBrokerConfigurationException(errors);
    }

    private static void AddBrokerServices(IServiceCollection services, JitBrokerSettings settings, BoundEndpoints endpoints)
    {
        services.AddSingleton(settings);
        services.AddSingleton(endpoints);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(settings.Broker);
        services.AddSingleton(settings.Attestation.JwtSvid);
        services.AddSingleton<IWorkloadAttestor, JwtSvidAttestor>();
        services.AddSingleton(sp => new AttestorRegistry(sp.GetServices<IWorkloadAttestor>()));

        services.AddSingleton<IPolicyEngine>(_ => LoadPolicy(settings.Policy.Path));

        services.AddSingleton(new SigningKeyOptions
        {
            DataDirectory = settings.DataDirectory,
            PrivateKeyPemPath = settings.SigningKey.PrivateKeyPemPath,
            PreviousPublicKeyPemPaths = settings.SigningKey.PreviousPublicKeyPemPaths,
        });
        services.AddSingleton<ISigningKeyProvider, FileSigningKeyProvider>();
        services.AddSingleton(settings.Issuer);
        services.AddSingleton<JwtCredentialIssuer>();
        services.AddSingleton<ICredentialIssuer>(sp => sp.GetRequiredService<JwtCredentialIssuer>());
        services.AddSingleton<ITaskCredentialVerifier>(sp => sp.GetRequiredService<JwtCredentialIssuer>());
        services.AddSingleton(sp => new IssuerRegistry(sp.GetServices<ICredentialIssuer>()));

        services.AddSingleton<ILeaseStore, InMemoryLeaseStore>();
        services.AddSingleton(new RetryBackoff(settings.Broker.RetryInitialDelay, settings.Broker.RetryMaxDelay));
        services.AddSingleton<LeaseRevoker>();
        services.AddSingleton<CredentialBroker>();
        services.AddSingleton<CredentialBrokerGrpcService>();
        services.AddSingleton<GrpcHealthService>();
        services.AddJitBrokerRevocation(settings.Revocation);
    }

    private static YamlPolicyEngine LoadPolicy(string path)
    {
        try
        {
            return YamlPolicyEngine.LoadFile(path);
        }
        catch (PolicyLoadException ex)
        {
            throw new InvalidBrokerConfigurationException([$"Policy: {ex.Message}"]);
        }
        catch (IOException ex)
        {
            throw new InvalidBrokerConfigurationException([$"Policy file '{path}' cannot be read: {ex.Message}"]);
        }
    }

    /// <summary>Relative paths that do not exist from the working directory resolve against the shipped files.</summary>
    private static string ResolveShipped(string path) =>
        Path.IsPathRooted(path) || File.Exists(path) ? path : Path.Combine(AppContext.BaseDirectory, path);

    private static void CreatePrivateDirectory(string path)
    {
        var info = Directory.CreateDirectory(path);
        if (!OperatingSystem.IsWindows())
        {
            info.UnixFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        }
    }
}

/// <summary>The listeners Kestrel actually bound (port 0 resolves to a real port once started).</summary>
public sealed class BoundEndpoints
{
    public ListenOptions? Grpc { get; set; }

    public ListenOptions? Http { get; set; }

    public Uri GrpcUri => new($"http://{Grpc?.IPEndPoint}");

    public Uri HttpUri => new($"http://{Http?.IPEndPoint}");
}

public sealed class InvalidBrokerConfigurationException(IReadOnlyList<string> errors)
    : Exception("Invalid configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  - " + e)))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
