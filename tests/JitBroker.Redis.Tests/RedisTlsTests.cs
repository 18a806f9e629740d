using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;
using StackExchange.Redis;

namespace JitBroker.Redis.Tests;

/// <summary>TLS against redis-server's own TLS listener (Debian builds it with OpenSSL), with a test CA.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisTlsTests
{
    private string _directory = null!;
    private RedisServerProcess _server = null!;
    private int _tlsPort;

    [OneTimeSetUp]
    public async Task StartTlsServer()
    {
        _directory = Directory.CreateTempSubdirectory("jitbroker-tls-").FullName;
        var now = DateTimeOffset.UtcNow;
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=JitBroker Test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(2));

        using var serverKey = RSA.Create(2048);
        var serverRequest = new CertificateRequest("CN=redis.test", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("redis.test");
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var serverCert = serverRequest.Create(ca, now.AddMinutes(-5), now.AddDays(1), [1, 2, 3, 4]);

        await File.WriteAllTextAsync(CaPath, ca.ExportCertificatePem());
        await File.WriteAllTextAsync(Path.Combine(_directory, "server.crt"), serverCert.ExportCertificatePem());
        await File.WriteAllTextAsync(Path.Combine(_directory, "server.key"), serverKey.ExportPkcs8PrivateKeyPem());

        using var otherKey = RSA.Create(2048);
        using var other = new CertificateRequest("CN=Someone Else", otherKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            .CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
        await File.WriteAllTextAsync(OtherCaPath, other.ExportCertificatePem());

        _tlsPort = RedisServerProcess.FreePort();
        _server = await RedisServerProcess.StartServerAsync(
            "--tls-port", _tlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--tls-cert-file", Path.Combine(_directory, "server.crt"),
            "--tls-key-file", Path.Combine(_directory, "server.key"),
            "--tls-ca-cert-file", CaPath,
            "--tls-auth-clients", "no");
    }

    [OneTimeTearDown]
    public async Task StopTlsServer()
    {
        await _server.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private string CaPath => Path.Combine(_directory, "ca.crt");

    private string OtherCaPath => Path.Combine(_directory, "other-ca.crt");

    private RedisOptions Options(string ca, string? serverName) => new()
    {
        Endpoint = $"127.0.0.1:{_tlsPort}",
        UseTls = true,
        CaCertificatePath = ca,
        TlsServerName = serverName,
        ConnectTimeout = TimeSpan.FromSeconds(3),
        AllowAdminCommands = true,
    };

    [Test]
    public async Task Commands_run_over_tls_with_a_custom_ca_and_server_name()
    {
        await using var redis = new RedisConnection(Options(CaPath, "redis.test"));

        await redis.ExecuteAsync("SET", ["over-tls", new byte[100_000]]);

        Assert.That((await redis.ExecuteAsync("STRLEN", ["over-tls"])).AsInt64(), Is.EqualTo(100_000));
        var clients = (await redis.ExecuteAsync("CLIENT", ["LIST"])).AsString()!;
        Assert.That(clients, Does.Contain($"laddr=127.0.0.1:{_tlsPort}"), "the connection went to the TLS port");
    }

    [Test]
    public async Task A_server_certificate_from_another_ca_is_refused()
    {
        await using var redis = new RedisConnection(Options(OtherCaPath, "redis.test"));
        Assert.ThrowsAsync<RedisConnectionException>(() => redis.ExecuteAsync("PING", []).AsTask());
    }

    [Test]
    public async Task A_server_name_the_certificate_does_not_carry_is_refused()
    {
        await using var redis = new RedisConnection(Options(CaPath, "not-redis.test"));
        Assert.ThrowsAsync<RedisConnectionException>(() => redis.ExecuteAsync("PING", []).AsTask());
    }
}
