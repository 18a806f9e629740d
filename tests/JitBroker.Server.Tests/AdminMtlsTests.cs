using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using JitBroker.Cli;
using JitBroker.Protocol.V1;
using JitBroker.Testing;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// The admin listener on TLS with a required client certificate (<c>JitBroker:Listen:AdminCertificatePath</c>,
/// <c>AdminKeyPath</c>, <c>AdminClientCaPath</c>) over real Kestrel, from a Grpc.Net.Client and from the jitctl
/// process. The client certificate is an extra transport requirement; the bearer identity still authorises.
/// </summary>
[NonParallelizable]
public sealed class AdminMtlsTests
{
    private BrokerServerFixture _broker = null!;
    private X509Certificate2 _server = null!;
    private X509Certificate2 _adminCa = null!;
    private X509Certificate2 _otherCa = null!;
    private X509Certificate2 _operator = null!;
    private X509Certificate2 _stranger = null!;
    private string _pki = null!;

    private string P(string name) => Path.Combine(_pki, name);

    [OneTimeSetUp]
    public async Task Start()
    {
        var now = TimeProvider.System.GetUtcNow();
        _pki = Directory.CreateTempSubdirectory("jitbroker-admin-mtls-").FullName;
        _server = ListenerTests.ServerCertificate(now);
        await File.WriteAllTextAsync(P("admin.crt"), _server.ExportCertificatePem());
        await File.WriteAllTextAsync(P("admin.key"), _server.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());

        _adminCa = X509SvidFactory.CreateCa("ops.example", now.AddMinutes(-5), now.AddHours(1), "CN=jitbroker admin client CA");
        _otherCa = X509SvidFactory.CreateCa("ops.example", now.AddMinutes(-5), now.AddHours(1), "CN=some other CA");
        _operator = X509SvidFactory.CreateLeaf(_adminCa, "spiffe://ops.example/humans/alice", now.AddMinutes(-5), now.AddHours(1));
        _stranger = X509SvidFactory.CreateLeaf(_otherCa, "spiffe://ops.example/humans/alice", now.AddMinutes(-5), now.AddHours(1));
        X509SvidFactory.WritePemFile(P("admin-client-ca.pem"), _adminCa);
        X509SvidFactory.WritePemFile(P("other-ca.pem"), _otherCa);
        X509SvidFactory.WritePemFile(P("server-ca.pem"), _server);
        WriteKeyPair(_operator, "operator");
        WriteKeyPair(_stranger, "stranger");

        _broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Admin:Principals:0"] = E2E.AdminPattern,
            ["JitBroker:Listen:AdminCertificatePath"] = P("admin.crt"),
            ["JitBroker:Listen:AdminKeyPath"] = P("admin.key"),
            ["JitBroker:Listen:AdminClientCaPath"] = P("admin-client-ca.pem"),
        });
        Assert.That(_broker.AdminUri.Scheme, Is.EqualTo("https"), "the admin listener speaks TLS");
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _broker.DisposeAsync();
        foreach (var c in new[] { _server, _adminCa, _otherCa, _operator, _stranger })
        {
            c.Dispose();
        }

        Directory.Delete(_pki, recursive: true);
    }

    private void WriteKeyPair(X509Certificate2 certificate, string name)
    {
        File.WriteAllText(P(name + ".crt"), certificate.ExportCertificatePem());
        File.WriteAllText(P(name + ".key"), certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>Trusts only the test server certificate; presents <paramref name="client"/> (always, whatever CAs the server names) when given.</summary>
    private SocketsHttpHandler Handler(X509Certificate2? client)
    {
        var handler = ListenerTests.TrustingOnly(_server);
        if (client is not null)
        {
            handler.SslOptions.ClientCertificateContext = SslStreamCertificateContext.Create(client, null, offline: true);
        }

        return handler;
    }

    private AdminClient Admin(X509Certificate2? client, string? identity = null) =>
        identity is null
            ? new(_broker.AdminUri, _ => Task.FromResult(E2E.AdminSvid(_broker)), TimeSpan.FromSeconds(10), Handler(client))
            : new(_broker.AdminUri, identity, TimeSpan.FromSeconds(10), Handler(client));

    private async Task<IReadOnlyList<string>> BlockedPatternsAsync()
    {
        using var admin = Admin(_operator);
        return [.. (await admin.ListBlocksAsync()).Blocks.Select(b => b.Pattern)];
    }

    private static BlockAgentRequest Block(string pattern) => new() { Pattern = pattern, Reason = "admin mTLS test" };

    [Test]
    public async Task Without_a_client_certificate_an_admin_call_fails_and_changes_nothing()
    {
        const string pattern = E2E.TrustDomain + "/agents/no-client-cert-*";
        using (var admin = Admin(client: null))
        {
            var ex = Assert.ThrowsAsync<RpcException>(() => admin.BlockAsync(Block(pattern)));
            Assert.That(ex!.StatusCode, Is.Not.EqualTo(StatusCode.OK).And.Not.EqualTo(StatusCode.PermissionDenied), "refused by TLS, before any handler: " + ex);
            var list = Assert.ThrowsAsync<RpcException>(() => admin.ListBlocksAsync());
            Assert.That(list!.StatusCode, Is.Not.EqualTo(StatusCode.OK));
        }

        Assert.That(await BlockedPatternsAsync(), Does.Not.Contain(pattern), "no block was placed");
    }

    [Test]
    public async Task A_client_certificate_from_another_CA_fails_and_changes_nothing()
    {
        const string pattern = E2E.TrustDomain + "/agents/wrong-ca-*";
        using (var admin = Admin(_stranger))
        {
            var ex = Assert.ThrowsAsync<RpcException>(() => admin.BlockAsync(Block(pattern)));
            Assert.That(ex!.StatusCode, Is.Not.EqualTo(StatusCode.OK).And.Not.EqualTo(StatusCode.PermissionDenied), "refused by TLS, before any handler: " + ex);
        }

        Assert.That(await BlockedPatternsAsync(), Does.Not.Contain(pattern), "no block was placed");
    }

    [Test]
    public async Task A_client_certificate_from_the_configured_CA_with_an_admin_identity_succeeds()
    {
        const string pattern = E2E.TrustDomain + "/agents/operator-blocked-*";
        using var admin = Admin(_operator);
        Assert.That((await admin.ListBlocksAsync()).Blocks.Select(b => b.Pattern), Does.Not.Contain(pattern));

        await admin.BlockAsync(Block(pattern));
        Assert.That((await admin.ListBlocksAsync()).Blocks.Select(b => b.Pattern), Does.Contain(pattern), "the same call that failed above works here");
        Assert.That((await admin.UnblockAsync(new UnblockAgentRequest { Pattern = pattern, Reason = "done" })).Removed, Is.True);
    }

    [Test]
    public void The_client_certificate_does_not_replace_the_bearer_identity()
    {
        using var agent = Admin(_operator, identity: _broker.Svid());
        var ex = Assert.ThrowsAsync<RpcException>(() => agent.ListBlocksAsync());
        Assert.That((ex!.StatusCode, E2E.Reason(ex)), Is.EqualTo((StatusCode.PermissionDenied, "admin.not_an_admin")));

        using var garbage = Admin(_operator, identity: "not-a-token");
        Assert.That(Assert.ThrowsAsync<RpcException>(() => garbage.ListBlocksAsync())!.StatusCode, Is.EqualTo(StatusCode.Unauthenticated));
    }

    [Test]
    public async Task Jitctl_presents_the_admin_client_certificate_and_trusts_the_admin_CA()
    {
        const string pattern = E2E.TrustDomain + "/agents/jitctl-mtls-*";
        using (var admin = Admin(_operator))
        {
            await admin.BlockAsync(Block(pattern));
        }

        string[] Args(string cert, string key, string ca) =>
            ["blocks", "--json", "--admin-endpoint", _broker.AdminUri.ToString(), "--admin-client-cert", P(cert), "--admin-client-key", P(key), "--admin-ca", P(ca)];


        var ok = await Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker), Args("operator.crt", "operator.key", "server-ca.pem"));
        Assert.That(ok.Code, Is.Zero, ok.ToString());
        Assert.That(ok.Json().GetProperty("blocks").EnumerateArray().Select(b => b.GetProperty("pattern").GetString()), Does.Contain(pattern), ok.ToString());

        var noCert = await Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker), "blocks", "--admin-endpoint", _broker.AdminUri.ToString(), "--admin-ca", P("server-ca.pem"));
        Assert.That(noCert.Code, Is.Not.Zero.And.Not.EqualTo(ExitCodes.Usage), "no client certificate: " + noCert);
        Assert.That(noCert.Out, Does.Not.Contain(pattern));

        var wrongCa = await Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker), Args("stranger.crt", "stranger.key", "server-ca.pem"));
        Assert.That(wrongCa.Code, Is.Not.Zero.And.Not.EqualTo(ExitCodes.Usage), "client certificate from another CA: " + wrongCa);

        var untrustedServer = await Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker), Args("operator.crt", "operator.key", "other-ca.pem"));
        Assert.That(untrustedServer.Code, Is.Not.Zero.And.Not.EqualTo(ExitCodes.Usage), "--admin-ca is a trust anchor, not trust-all: " + untrustedServer);

        var halfPair = await Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker), "blocks", "--admin-endpoint", _broker.AdminUri.ToString(), "--admin-client-cert", P("operator.crt"));
        Assert.That(halfPair.Code, Is.EqualTo(ExitCodes.Usage), halfPair.ToString());

        var mismatched = await Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker), Args("operator.crt", "stranger.key", "server-ca.pem"));
        Assert.That(mismatched.Code, Is.EqualTo(ExitCodes.Usage), mismatched.ToString());
        var key = File.ReadAllText(P("stranger.key"));
        var body = key.Split('\n')[1];
        Assert.That(mismatched.Out + mismatched.Err, Does.Not.Contain(body), "key material is never printed");
    }
}
