using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using JitBroker.Testing;
using NUnit.Framework;

namespace JitBroker.Console.Tests;

/// <summary>The production shape: the console shares the TLS admin listener with jitctl's gRPC (HTTP/1.1 and h2 by ALPN).</summary>
public sealed class ConsoleTlsTests
{
    private ConsoleBroker _broker = null!;
    private X509Certificate2 _server = null!;
    private string _pki = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        var now = TimeProvider.System.GetUtcNow();
        _pki = Directory.CreateTempSubdirectory("jitbroker-console-tls-").FullName;
        using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            var request = new CertificateRequest("CN=jitbroker-console-test", key, HashAlgorithmName.SHA256);
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
            _server = request.CreateSelfSigned(now.AddMinutes(-5), now.AddHours(1));
        }

        await File.WriteAllTextAsync(Path.Combine(_pki, "admin.crt"), _server.ExportCertificatePem());
        await File.WriteAllTextAsync(Path.Combine(_pki, "admin.key"), _server.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        var adminPort = LoopbackPorts.Free(1)[0];
        _broker = await ConsoleBroker.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Listen:Console"] = null,
            ["JitBroker:Listen:Admin"] = $"127.0.0.1:{adminPort}",
            ["JitBroker:Listen:AdminCertificatePath"] = Path.Combine(_pki, "admin.crt"),
            ["JitBroker:Listen:AdminKeyPath"] = Path.Combine(_pki, "admin.key"),
            ["JitBroker:Console:PublicBaseUrl"] = $"https://127.0.0.1:{adminPort}",
        }, consolePort: adminPort);
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _broker.DisposeAsync();
        _server.Dispose();
        Directory.Delete(_pki, recursive: true);
    }

    private HttpClient Client(Version version) => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        SslOptions = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, presented, _, _) => presented is not null && presented.GetRawCertData().AsSpan().SequenceEqual(_server.RawData),
        },
    })
    { BaseAddress = _broker.Endpoints.AdminUri, DefaultRequestVersion = version, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };

    [Test]
    public async Task A_browser_on_http1_is_sent_to_sign_in_and_every_console_cookie_is_secure()
    {
        Assert.That(_broker.Endpoints.AdminUri.Scheme, Is.EqualTo("https"));
        using var browser = Client(HttpVersion.Version11);

        var response = await browser.GetAsync("/console/approvals");

        Assert.That(response.Version, Is.EqualTo(HttpVersion.Version11));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Found));
        Assert.That(response.Headers.Location!.GetLeftPart(UriPartial.Path), Is.EqualTo(_broker.Provider.Issuer + "/authorize"));
        var cookies = response.Headers.GetValues("Set-Cookie").ToList();
        Assert.That(cookies, Is.Not.Empty);
        Assert.That(cookies, Has.All.Contain("secure").And.All.Contain("samesite=lax").And.All.Contain("httponly"));
    }

    [Test]
    public async Task The_same_port_still_speaks_h2_for_the_admin_grpc_api()
    {
        using var h2 = Client(HttpVersion.Version20);
        using var call = new HttpRequestMessage(HttpMethod.Post, "/jitbroker.v1.BrokerAdmin/ListApprovals")
        {
            Content = new ByteArrayContent([0, 0, 0, 0, 0]),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        call.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");
        call.Headers.TryAddWithoutValidation("te", "trailers");

        var response = await h2.SendAsync(call);
        await response.Content.ReadAsByteArrayAsync();

        Assert.That(response.Version, Is.EqualTo(HttpVersion.Version20));
        var status = response.TrailingHeaders.TryGetValues("grpc-status", out var t) ? t.Single()
            : response.Headers.GetValues("grpc-status").Single();
        Assert.That(status, Is.EqualTo("16"), "UNAUTHENTICATED: the admin service answered (no token), so gRPC is served beside the console");
    }
}
