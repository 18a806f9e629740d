using System.Security.Cryptography.X509Certificates;
using JitBroker.Attestation;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace JitBroker.Server;

/// <summary>
/// Composition root: reads and validates settings, wires the components (BrokerServices.cs), and opens the
/// listeners: agent gRPC (h2c, TLS, mTLS), the admin API on its own listener, and HTTP/1.1 for
/// JWKS/health/metrics. gRPC runs on Grpc.AspNetCore beside ordinary ASP.NET Core endpoints, so further HTTP
/// endpoints (an OAuth front door) are mapped next to them in <see cref="HttpEndpoints"/>.
/// </summary>
public static partial class BrokerHost
{
    /// <summary>The embedded profile's development trust domain lives here, under the data directory.</summary>
    private const string DevTrustDomainDirectory = "dev-trust-domain";

    /// <summary>Builds a ready-to-run broker. Throws <see cref="InvalidBrokerConfigurationException"/> on any configuration error.</summary>
    public static WebApplication Build(string[] args, Action<ConfigurationManager>? configure = null)
    {
        var builder = CreateBuilder(args, configure);
        var settings = LoadSettings(builder.Configuration);
        ProvisionEmbedded(settings);

        var endpoints = new BoundEndpoints
        {
            OAuthOnHttp = settings.IsEmbedded || settings.Listen.TlsTerminatedBySidecar,
            ConsoleOnAdmin = ConsoleListenerRules.OnAdmin(settings),
        };
        builder.WebHost.ConfigureKestrel(kestrel => ConfigureListeners(kestrel, settings, endpoints));
        BrokerServices.Add(builder.Services, settings, endpoints);
        GrpcSetup.Add(builder.Services, settings);
        OAuth.OAuthEndpoints.Add(builder.Services, settings);
        Ssf.SsfEndpoints.Add(builder.Services, settings);
        Notifications.NotificationServices.Add(builder.Services, settings);
        BrokerTelemetry.Add(builder.Services, settings);
        if (settings.Console.Enabled)
        {
            WebConsole.ConsoleSetup.Add(builder.Services, settings.Console, https: endpoints.ConsoleOnAdmin);
        }

        var app = builder.Build();
        BrokerServices.ResolveEagerly(app.Services, settings);
        if (!settings.IsEmbedded && settings.Listen.TlsTerminatedBySidecar)
        {
            var log = app.Services.GetRequiredService<ILogger<BrokerStartup>>();
            foreach (var (name, address) in SettingsValidator.CleartextListeners(settings.Listen))
            {
                BrokerStartup.LogCleartextBehindSidecar(log, name, address);
            }
        }

        app.UseRouting();
        app.UseListenerRoles(endpoints);
        if (settings.Console.Enabled)
        {
            WebConsole.ConsoleSetup.Use(app, context => endpoints.Owns(ListenerRole.Console, context.Connection.LocalPort));
            foreach (var console in WebConsole.ConsoleSetup.Map(app))
            {
                console.OnlyOn(ListenerRole.Console);
            }
        }

        GrpcSetup.Map(app, settings);
        HttpEndpoints.Map(app, new Uri(settings.Issuer.Issuer).AbsolutePath.TrimEnd('/'));
        OAuth.OAuthEndpoints.Map(app, settings);
        Ssf.SsfEndpoints.Map(app, settings);
        return app;
    }

    /// <summary>
    /// The <c>check</c> command: the configuration <see cref="Build"/> would read, bound and validated by the same
    /// code (<see cref="LoadSettings"/>), and nothing written — no data directory, no development trust domain, no
    /// signing key. Throws <see cref="InvalidBrokerConfigurationException"/> listing every problem.
    /// </summary>
    public static JitBrokerSettings Check(string[] args, Action<ConfigurationManager>? configure = null) =>
        LoadSettings(CreateBuilder(args, configure).Configuration);

    private static WebApplicationBuilder CreateBuilder(string[] args, Action<ConfigurationManager>? configure)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args });
        configure?.Invoke(builder.Configuration);
        return builder;
    }

    /// <summary>
    /// Binds and validates settings, applying the embedded profile's defaults; reads files but writes none (start-up
    /// creates what the embedded profile needs afterwards, in <see cref="ProvisionEmbedded"/>).
    /// </summary>
    /// <summary>Production: every allow rule names the person accountable for it (docs/policy.md "Owners"), at start and at every reload.</summary>
    internal static bool OwnersRequired(JitBrokerSettings settings) => settings.Policy.RequireOwners || !settings.IsEmbedded;

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
            if (string.IsNullOrWhiteSpace(settings.Issuer.Issuer))
            {
                settings.Issuer.Issuer = "http://" + settings.Listen.Http;
            }

            if (string.IsNullOrWhiteSpace(settings.Audit.Path))
            {
                settings.Audit.Path = Path.Combine(settings.DataDirectory, "audit.jsonl");
            }
        }

        settings.Notifications.DefaultConsoleBaseUrl(settings.Console);
        settings.Policy.Path = ResolveShipped(settings.Policy.Path);
        settings.Policy.RequireOwners = OwnersRequired(settings);
        // The embedded profile's development trust domain is the broker's own: start-up creates (or repairs) it after
        // validation, so it is never read here and counts as the JWT-SVID bundle to come.
        var errors = SettingsValidator.Validate(settings, devTrustDomainPending: settings.IsEmbedded);
        if (errors.Count == 0)
        {
            errors = [.. ConfigurationProbes.Run(settings)];
        }

        return errors.Count == 0 ? settings : throw new InvalidBrokerConfigurationException(errors);
    }

    /// <summary>Start-up only, after validation: the embedded profile's data directory (mode 0700) and development trust domain.</summary>
    private static void ProvisionEmbedded(JitBrokerSettings settings)
    {
        if (!settings.IsEmbedded)
        {
            return;
        }

        CreatePrivateDirectory(settings.DataDirectory);
        using var dev = DevTrustDomain.LoadOrCreate(Path.Combine(settings.DataDirectory, DevTrustDomainDirectory), TimeProvider.System);
        settings.Attestation.JwtSvid.TrustBundles.TryAdd(DevTrustDomain.Name, dev.BundlePath);
    }

    private static void ConfigureListeners(KestrelServerOptions kestrel, JitBrokerSettings settings, BoundEndpoints endpoints)
    {
        var listen = settings.Listen;
        kestrel.AddServerHeader = false;
        kestrel.Limits.MaxConcurrentConnections = listen.MaxConcurrentConnections;
        kestrel.Limits.MaxRequestHeadersTotalSize = listen.MaxRequestHeadersTotalSize;
        kestrel.Limits.MaxRequestHeaderCount = listen.MaxRequestHeaderCount;
        kestrel.Limits.RequestHeadersTimeout = listen.RequestHeadersTimeout;
        kestrel.Limits.Http2.MaxStreamsPerConnection = listen.MaxStreamsPerConnection;
        kestrel.Limits.Http2.MaxRequestHeaderFieldSize = listen.MaxRequestHeaderFieldSize;

        if (listen.Grpc.Length > 0)
        {
            kestrel.Listen(SettingsValidator.ParseEndpoint(listen.Grpc), o =>
            {
                o.Protocols = HttpProtocols.Http2;
                endpoints.Grpc = o;
            });
        }

        kestrel.Listen(SettingsValidator.ParseEndpoint(listen.Http), o =>
        {
            o.Protocols = HttpProtocols.Http1;
            endpoints.Http = o;
        });
        if (listen.Tls is { } tls)
        {
            // Server authentication only: agents present bearer JWT-SVIDs or OIDC tokens in the metadata.
            var certificate = new ReloadingCertificate(listen.TlsCertificatePath!, listen.TlsKeyPath!, TimeProvider.System);
            kestrel.Listen(SettingsValidator.ParseEndpoint(tls), o =>
            {
                // HTTP/1.1 too, for OAuth clients (fetch, curl); gRPC clients negotiate h2 by ALPN.
                o.Protocols = HttpProtocols.Http1AndHttp2;
                o.UseHttps(https =>
                {
                    https.ServerCertificateSelector = (_, _) => certificate.Current;
                    https.ClientCertificateMode = ClientCertificateMode.NoCertificate;
                });
                endpoints.Tls = o;
            });
        }

        if (listen.Mtls is { } mtls)
        {
            var certificate = new ReloadingCertificate(listen.MtlsCertificatePath!, listen.MtlsKeyPath!, TimeProvider.System);
            kestrel.Listen(SettingsValidator.ParseEndpoint(mtls), o =>
            {
                o.Protocols = HttpProtocols.Http1AndHttp2;
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

        if (listen.Console is { } console)
        {
            // Embedded only (validated): browsers need HTTP/1.1, which cannot share the cleartext h2c admin port.
            kestrel.Listen(SettingsValidator.ParseEndpoint(console), o =>
            {
                o.Protocols = HttpProtocols.Http1;
                endpoints.Console = o;
            });
        }

        kestrel.Listen(SettingsValidator.ParseEndpoint(listen.Admin), o =>
        {
            // With the console on it, browsers (HTTP/1.1) and jitctl (h2) share the TLS admin port, chosen by ALPN.
            o.Protocols = endpoints.ConsoleOnAdmin ? HttpProtocols.Http1AndHttp2 : HttpProtocols.Http2;
            if (listen.AdminCertificatePath is { } adminCert)
            {
                var certificate = new ReloadingCertificate(adminCert, listen.AdminKeyPath!, TimeProvider.System);
                var clientCas = listen.AdminClientCaPath is { } caPath ? LoadCas(caPath) : null;
                o.UseHttps(https =>
                {
                    https.ServerCertificateSelector = (_, _) => certificate.Current;
                    if (clientCas is not null)
                    {
                        https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                        https.ClientCertificateValidation = (cert, _, _) => ChainsTo(cert, clientCas);
                    }
                });
                endpoints.AdminTls = true;
            }

            endpoints.Admin = o;
        });
    }

    private static X509Certificate2Collection LoadCas(string path)
    {
        var cas = new X509Certificate2Collection();
        cas.ImportFromPemFile(path);
        return cas;
    }

    /// <summary>The admin client certificate must chain to one of the configured CAs (never the system roots).</summary>
    private static bool ChainsTo(X509Certificate2 certificate, X509Certificate2Collection cas)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(cas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2")); // clientAuth
        return chain.Build(certificate);
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

public sealed class InvalidBrokerConfigurationException(IReadOnlyList<string> errors)
    : Exception("Invalid configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  - " + e)))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
