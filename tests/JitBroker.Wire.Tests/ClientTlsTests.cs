using System.Security.Cryptography.X509Certificates;
using JitBroker.Wire.Tests.Infrastructure;
using JitBroker.Wire.Tests.Proto;

namespace JitBroker.Wire.Tests;

/// <summary>https:// addresses: HTTP/2 negotiated by ALPN, and mutual TLS visible to handlers.</summary>
public sealed class ClientTlsTests : ServerTestBase
{
    [Test]
    public async Task A_call_over_TLS_reaches_the_handler_with_the_client_certificate()
    {
        using var clientCertificate = TestCertificates.Create("CN=agent-7", serverAuth: false);
        using var handler = TrustingHandler(clientCertificate);
        using var client = new GrpcClient(WireTestServer.TlsAddress, new GrpcClientOptions { Handler = handler });

        var response = await client.CallUnaryAsync(TestService.Name, "Echo", new TestRequest { Text = "tls" }, TestResponse.Parser);

        Assert.That(response.Text, Is.EqualTo("tls"));
        Assert.That(response.ClientCertificateSubject, Is.EqualTo("CN=agent-7"));
    }

    [Test]
    public async Task Without_a_client_certificate_the_handler_sees_none()
    {
        using var handler = TrustingHandler(null);
        using var client = new GrpcClient(WireTestServer.TlsAddress, new GrpcClientOptions { Handler = handler });

        var response = await client.CallUnaryAsync(TestService.Name, "Echo", new TestRequest(), TestResponse.Parser);

        Assert.That(response.ClientCertificateSubject, Is.Empty);
    }

    [Test]
    public void An_untrusted_server_certificate_is_UNAVAILABLE()
    {
        using var client = new GrpcClient(WireTestServer.TlsAddress);

        var ex = Assert.ThrowsAsync<RpcException>(() => client.CallUnaryAsync(TestService.Name, "Echo", new TestRequest(), TestResponse.Parser));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.Unavailable));
    }

    private static SocketsHttpHandler TrustingHandler(X509Certificate2? clientCertificate)
    {
        var expected = WireTestServer.ServerCertificate.Thumbprint;
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            certificate?.GetCertHashString() == expected;
        if (clientCertificate is not null)
        {
            handler.SslOptions.ClientCertificates = [clientCertificate];
        }

        return handler;
    }
}
