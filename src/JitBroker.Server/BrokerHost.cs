using Grpc.Health.V1;
using JitBroker.Attestation;
using JitBroker.Wire;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace JitBroker.Server;

/// <summary>
/// Composition root: reads and validates settings, wires the components (BrokerServices.cs), and opens the
/// listeners: h2c gRPC, HTTP/1.1 for JWKS/health/metrics, and optionally TLS gRPC requiring client
/// certificates for X.509-SVID agents.
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
        builder.WebHost.ConfigureKestrel(kestrel => ConfigureListeners(kestrel, settings, endpoints));
        BrokerServices.Add(builder.Services, settings, endpoints);

        var app = builder.Build();
        BrokerServices.ResolveEagerly(app.Services, settings);

        var registry = new GrpcServiceRegistry();
        app.Services.GetRequiredService<CredentialBrokerGrpcService>().Register(registry);
        app.Services.GetRequiredService<BrokerAdminGrpcService>().Register(registry);
        var health = app.Services.GetRequiredService<GrpcHealthService>();
        health.Register(registry);
        SetServing(health, HealthCheckResponse.Types.ServingStatus.Serving);
        // Tell load balancers first, so no new call lands on a broker that is going away.
        app.Lifetime.ApplicationStopping.Register(() => SetServing(health, HealthCheckResponse.Types.ServingStatus.NotServing));
        app.UseGrpcWire(registry, new GrpcServerOptions { MaxReceiveMessageSize = settings.Listen.MaxReceiveMessageSize });
        HttpEndpoints.Map(app);
        return app;
    }

    /// <summary>Binds and validates settings; the embedded profile first creates its dev trust domain and defaults.</summary>
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
            CreatePrivateDirectory(settings.DataDirectory);
            var dev = DevTrustDomain.LoadOrCreate(Path.Combine(settings.DataDirectory, "dev-trust-domain"), TimeProvider.System);
            settings.Attestation.JwtSvid.TrustBundles.TryAdd(DevTrustDomain.Name, dev.BundlePath);
            if (string.IsNullOrWhiteSpace(settings.Issuer.Issuer))
            {
                settings.Issuer.Issuer = "http://" + settings.Listen.Http;
            }

            if (string.IsNullOrWhiteSpace(settings.Audit.Path))
            {
                settings.Audit.Path = Path.Combine(settings.DataDirectory, "audit.jsonl");
            }
        }

        settings.Policy.Path = ResolveShipped(settings.Policy.Path);
        var errors = SettingsValidator.Validate(settings);
        return errors.Count == 0 ? settings : throw new InvalidBrokerConfigurationException(errors);
    }

    private static void ConfigureListeners(KestrelServerOptions kestrel, JitBrokerSettings settings, BoundEndpoints endpoints)
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
        if (settings.Listen.Mtls is { } mtls)
        {
            var certificate = new ReloadingCertificate(settings.Listen.MtlsCertificatePath!, settings.Listen.MtlsKeyPath!, TimeProvider.System);
            kestrel.Listen(SettingsValidator.ParseEndpoint(mtls), o =>
            {
                o.Protocols = HttpProtocols.Http2;
                o.UseHttps(https =>
                {
                    https.ServerCertificateSelector = (_, _) => certificate.Current;
                    https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                    // TLS only proves possession of the key; the X.509-SVID attestor validates the chain against the
                    // trust domain's bundle (never the system roots) and the SPIFFE rules.
                    https.ClientCertificateValidation = (_, _, _) => true;
                });
                endpoints.Mtls = o;
            });
        }
    }

    private static void SetServing(GrpcHealthService health, HealthCheckResponse.Types.ServingStatus status)
    {
        health.SetStatus("", status);
        health.SetStatus(CredentialBrokerGrpcService.ServiceName, status);
        health.SetStatus(BrokerAdminGrpcService.ServiceName, status);
    }

    /// <summary>Relative paths that do not exist from the working directory resolve against the shipped files.</summary>
    private static string ResolveShipped(string path) =>
        path.Length == 0 || Path.IsPathRooted(path) || Path.Exists(path) ? path : Path.Combine(AppContext.BaseDirectory, path);

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

    public ListenOptions? Mtls { get; set; }

    public Uri GrpcUri => new($"http://{Grpc?.IPEndPoint}");

    public Uri HttpUri => new($"http://{Http?.IPEndPoint}");

    public Uri? MtlsUri => Mtls is null ? null : new Uri($"https://{Mtls.IPEndPoint}");
}

public sealed class InvalidBrokerConfigurationException(IReadOnlyList<string> errors)
    : Exception("Invalid configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  - " + e)))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
