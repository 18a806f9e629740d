using System.Net;
using System.Security.Cryptography.X509Certificates;
using JitBroker.Testing;
using Microsoft.Extensions.Time.Testing;
using JitBroker.Wire.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace JitBroker.Wire.Tests;

/// <summary>
/// One real Kestrel server for the whole assembly, on 127.0.0.1 with ephemeral ports: an HTTP/2-only
/// (prior knowledge) listener for gRPC, and an HTTP/1.1-only one to prove HTTP/1 calls are refused.
/// Deadlines run on a fake clock, so deadline tests advance time instead of sleeping.
/// </summary>
[SetUpFixture]
public sealed class WireTestServer
{
    private static WebApplication? _app;

    internal static Uri Address { get; private set; } = null!;

    internal static Uri Http1Address { get; private set; } = null!;

    /// <summary>HTTP/2 over TLS (ALPN h2), asking for a client certificate.</summary>
    internal static Uri TlsAddress { get; private set; } = null!;

    internal static X509Certificate2 ServerCertificate { get; } = TestCertificates.Create("CN=127.0.0.1", serverAuth: true);

    internal static FakeTimeProvider Clock { get; } = TestClock.Create();

    internal static TestService Service { get; } = new();

    internal static GrpcHealthService Health { get; } = new();

    internal static CapturingLoggerProvider Logs { get; } = new();

    /// <summary>Plain (non-gRPC) requests reach the app's own next middleware: this answers them.</summary>
    internal const string FallbackBody = "not-grpc";

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        ListenOptions? http1 = null;
        ListenOptions? tls = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2);
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                http1 = listen;
            });
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                listen.UseHttps(https =>
                {
                    https.ServerCertificate = ServerCertificate;
                    https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                    https.AllowAnyClientCertificate();
                });
                tls = listen;
            });
        });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddProvider(Logs);

        var registry = new GrpcServiceRegistry();
        Service.Register(registry);
        Health.Register(registry);

        _app = builder.Build();
        _app.UseGrpcWire(registry, new GrpcServerOptions { TimeProvider = Clock });
        _app.Run(context => context.Response.WriteAsync(FallbackBody));
        await _app.StartAsync();

        var addresses = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        Http1Address = new Uri($"http://127.0.0.1:{http1!.IPEndPoint!.Port}");
        TlsAddress = new Uri($"https://127.0.0.1:{tls!.IPEndPoint!.Port}");
        Address = new Uri(addresses.Single(a => new Uri(a).Port != Http1Address.Port && new Uri(a).Port != TlsAddress.Port));
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        Service.Reset();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Logs.Dispose();
    }
}
