using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using JitBroker.Cli;
using JitBroker.Protocol.V1;
using JitBroker.Testing;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// The listener layout over real Kestrel: agent h2c, agent TLS (server authentication only), the admin API on
/// its own port; plus the gRPC protocol behaviour grpc-dotnet gives every call (limits, deadlines, unknown methods).
/// </summary>
[NonParallelizable]
public sealed class ListenerTests
{
    private BrokerServerFixture _broker = null!;
    private X509Certificate2 _serverCertificate = null!;
    private string _pki = null!;
    private Uri _tls = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        var now = TimeProvider.System.GetUtcNow();
        _pki = Directory.CreateTempSubdirectory("jitbroker-tls-").FullName;
        _serverCertificate = ServerCertificate(now);
        var certPath = Path.Combine(_pki, "tls.crt");
        var keyPath = Path.Combine(_pki, "tls.key");
        await File.WriteAllTextAsync(certPath, _serverCertificate.ExportCertificatePem());
        await File.WriteAllTextAsync(keyPath, _serverCertificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        _broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Admin:Principals:0"] = E2E.AdminPattern,
            ["JitBroker:Listen:Tls"] = "127.0.0.1:0",
            ["JitBroker:Listen:TlsCertificatePath"] = certPath,
            ["JitBroker:Listen:TlsKeyPath"] = keyPath,
        });
        _tls = _broker.Services.GetRequiredService<BoundEndpoints>().TlsUri!;
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _broker.DisposeAsync();
        _serverCertificate.Dispose();
        Directory.Delete(_pki, recursive: true);
    }

    [Test]
    public async Task A_bearer_agent_gets_a_credential_over_the_server_authenticated_TLS_listener()
    {
        using var client = new BrokerClient(_tls, TrustingOnly(_serverCertificate));
        var issued = await client.RequestCredentialAsync(_broker.Svid(), E2E.Tickets("tls-1"), TimeSpan.FromSeconds(30));
        Assert.That(issued.LeaseId, Does.StartWith("lease_"));
        var ended = await client.EndTaskAsync(_broker.Svid(), "tls-1", TimeSpan.FromSeconds(30));
        Assert.That(ended.Leases.Single().LeaseId, Is.EqualTo(issued.LeaseId));
    }

    [Test]
    public void The_TLS_listener_does_not_speak_cleartext()
    {
        using var client = new BrokerClient(new Uri("http://" + _tls.Authority));
        var ex = Assert.ThrowsAsync<RpcException>(() => client.RequestCredentialAsync(_broker.Svid(), E2E.Tickets("tls-2"), TimeSpan.FromSeconds(10)));
        Assert.That(ex!.StatusCode, Is.Not.EqualTo(StatusCode.OK));
    }

    [Test]
    public void An_admin_method_on_an_agent_port_is_unimplemented([Values("h2c", "tls")] string listener)
    {
        var address = listener == "h2c" ? _broker.GrpcUri : _tls;
        using var admin = new AdminClient(address, E2E.AdminSvid(_broker), TimeSpan.FromSeconds(10), listener == "tls" ? TrustingOnly(_serverCertificate) : null);
        var ex = Assert.ThrowsAsync<RpcException>(() => admin.ListLeasesAsync(new ListLeasesRequest()));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.Unimplemented));
    }

    [Test]
    public void An_admin_method_with_a_forged_authority_naming_the_admin_port_is_still_unimplemented()
    {
        // The listener is decided by the port the connection arrived on, never by the client-chosen :authority.
        using var handler = new ForgeAuthority(_broker.AdminUri.Authority);
        using var admin = new AdminClient(_broker.GrpcUri, E2E.AdminSvid(_broker), TimeSpan.FromSeconds(10), handler);
        var ex = Assert.ThrowsAsync<RpcException>(() => admin.ListLeasesAsync(new ListLeasesRequest()));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.Unimplemented));
    }

    [Test]
    public void An_agent_method_on_the_admin_port_is_unimplemented()
    {
        using var client = new BrokerClient(_broker.AdminUri);
        var ex = Assert.ThrowsAsync<RpcException>(() => client.RequestCredentialAsync(_broker.Svid(), E2E.Tickets("adm-1"), TimeSpan.FromSeconds(10)));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.Unimplemented));
    }

    /// <summary>
    /// Unknown services and methods, answered by the broker's own middleware since grpc-dotnet's catch-all routes are off:
    /// a Trailers-Only UNIMPLEMENTED for a gRPC call (POST, <c>application/grpc</c>), and a service served only on another
    /// listener reads exactly like one that does not exist.
    /// </summary>
    [TestCase("agent", "/jitbroker.v1.CredentialBroker/StealCredential", "Method is unimplemented.")]
    [TestCase("agent", "/evil.v1.Nope/Do", "Service is unimplemented.")]
    [TestCase("agent", "/jitbroker.v1.BrokerAdmin/ListLeases", "Service is unimplemented.")]
    [TestCase("agent", "/jitbroker.v1.BrokerAdmin/NoSuchMethod", "Service is unimplemented.")]
    [TestCase("admin", "/jitbroker.v1.BrokerAdmin/NoSuchMethod", "Method is unimplemented.")]
    [TestCase("admin", "/jitbroker.v1.CredentialBroker/RequestCredential", "Service is unimplemented.")]
    [TestCase("agent", "/grpc.health.v1.Health/Nope", "Method is unimplemented.")]
    [TestCase("agent", "/jitbroker.v1.CredentialBroker/RequestCredential/extra", "Service is unimplemented.")]
    [TestCase("agent", "/", "Service is unimplemented.")]
    public async Task A_grpc_call_to_what_is_not_served_here_is_unimplemented(string listener, string path, string message)
    {
        using var response = await RawCall(listener == "agent" ? _broker.GrpcUri : _broker.AdminUri, HttpMethod.Post, path, "application/grpc");
        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.OK));
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/grpc"));
            Assert.That(response.Headers.GetValues("grpc-status").Single(), Is.EqualTo("12"));
            Assert.That(Uri.UnescapeDataString(response.Headers.GetValues("grpc-message").Single()), Is.EqualTo(message));
        });
    }

    /// <summary>
    /// What is not a gRPC call (not a POST, another content type, gRPC-Web included, or two content types) gets plain HTTP's
    /// 404 on a path nobody serves, and no gRPC answer either for an admin method asked for on the agent port (routing's
    /// 405 for a GET, which does not depend on the listener; 404 otherwise): the listener check and the unknown-call answer
    /// use one test of what a gRPC call is.
    /// </summary>
    [TestCase("GET", "application/grpc")]
    [TestCase("POST", "application/json")]
    [TestCase("POST", "application/grpc-web")]
    [TestCase("POST", "application/grpcx")]
    [TestCase("POST", "application/grpc", "application/grpc")]
    public async Task A_request_that_is_not_a_grpc_call_gets_no_grpc_answer(string method, params string[] contentTypes)
    {
        using (var unknown = await RawCall(_broker.GrpcUri, new HttpMethod(method), "/evil.v1.Nope/Do", contentTypes))
        {
            Assert.That(unknown.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.NotFound));
            Assert.That(unknown.Headers.Contains("grpc-status"), Is.False);
        }

        using var admin = await RawCall(_broker.GrpcUri, new HttpMethod(method), "/jitbroker.v1.BrokerAdmin/ListLeases", contentTypes);
        Assert.That(admin.StatusCode, Is.EqualTo(method == "GET" ? System.Net.HttpStatusCode.MethodNotAllowed : System.Net.HttpStatusCode.NotFound));
        Assert.That(admin.Headers.Contains("grpc-status"), Is.False);
    }

    /// <summary>A raw HTTP/2 request over h2c (prior knowledge): an empty body sent with each of <paramref name="contentTypes"/> as a content-type header.</summary>
    private static async Task<HttpResponseMessage> RawCall(Uri listener, HttpMethod method, string path, params string[] contentTypes)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(method, new Uri(listener, path))
        {
            Version = System.Net.HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent([]),
        };
        foreach (var contentType in contentTypes)
        {
            Assert.That(request.Content.Headers.TryAddWithoutValidation("content-type", contentType), Is.True, "the header is sent");
        }

        return await http.SendAsync(request);
    }

    [Test]
    public async Task The_admin_API_answers_on_its_own_port()
    {
        using var admin = E2E.Admin(_broker);
        var blocks = await admin.ListBlocksAsync();
        Assert.That(blocks.Blocks, Is.Empty);
    }

    [Test]
    public void A_message_over_the_receive_limit_is_resource_exhausted()
    {
        using var client = _broker.Client();
        var request = BrokerClient.NewRequest("big-1", "tickets.read", BrokerServerFixture.TicketsAudience, ["zendesk"], ["tickets/1"], new string('x', 5 * 1024 * 1024));
        var ex = Assert.ThrowsAsync<RpcException>(() => client.RequestCredentialAsync(_broker.Svid(), request, TimeSpan.FromSeconds(30)));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.ResourceExhausted));
    }

    [Test]
    public void An_expired_deadline_is_deadline_exceeded()
    {
        using var client = _broker.Client();
        var ex = Assert.ThrowsAsync<RpcException>(() => client.RequestCredentialAsync(_broker.Svid(), E2E.Tickets("dl-1"), TimeSpan.FromTicks(1)));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.DeadlineExceeded));
    }

    [Test]
    public async Task A_metadata_header_over_the_field_limit_never_reaches_a_handler()
    {
        using var client = _broker.Client();
        var headers = new Metadata { { "authorization", "Bearer " + new string('a', 40 * 1024) } };
        var ex = Assert.ThrowsAsync<RpcException>(async () => await client.Generated.RequestCredentialAsync(E2E.Tickets("hdr-1"), headers,
            TimeProvider.System.GetUtcNow().UtcDateTime.AddSeconds(10)));
        Assert.That(ex!.StatusCode, Is.Not.EqualTo(StatusCode.OK).And.Not.EqualTo(StatusCode.Unauthenticated), "refused by Kestrel, not attested");
        // The connection pool recovers: the next normal call works.
        using var fresh = _broker.Client();
        Assert.That((await fresh.RequestCredentialAsync(_broker.Svid(), E2E.Tickets("hdr-2"), TimeSpan.FromSeconds(30))).LeaseId, Does.StartWith("lease_"));
    }

    internal static SocketsHttpHandler TrustingOnly(X509Certificate2 server) => new()
    {
        SslOptions = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, presented, _, _) =>
                presented is not null && presented.GetRawCertData().AsSpan().SequenceEqual(server.RawData),
        },
    };

    internal static X509Certificate2 ServerCertificate(DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=jitbroker-tls-test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(X509SvidFactory.ServerAuthOid)], false));
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddHours(1));
    }

    /// <summary>Sends every request with a forged :authority (Host) while connecting to the real address.</summary>
    private sealed class ForgeAuthority(string authority) : DelegatingHandler(new SocketsHttpHandler())
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Host = authority;
            return base.SendAsync(request, cancellationToken);
        }
    }
}
