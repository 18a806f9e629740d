using JitBroker.Vault.Tests.Fakes;
using JitBroker.Vault.Tests.Infrastructure;
using NUnit.Framework;

namespace JitBroker.Vault.Tests;

/// <summary>Vault over HTTPS whose certificate chains to a private CA: trusted only through the configured PEM bundle.</summary>
public sealed class VaultTlsTests
{
    private TestCertificates _certificates = null!;
    private FakeVault _vault = null!;
    private string _dir = null!;

    [SetUp]
    public async Task StartAsync()
    {
        _certificates = TestCertificates.Create();
        _vault = await FakeVault.StartAsync(_certificates.Server);
        _dir = Directory.CreateTempSubdirectory("jitbroker-vault-tls-").FullName;
    }

    [TearDown]
    public async Task StopAsync()
    {
        await _vault.DisposeAsync();
        _certificates.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private VaultOptions Options(string? caPath) => new()
    {
        Address = _vault.Address,
        CaCertificatePath = caPath,
        Timeout = TimeSpan.FromSeconds(5),
        Auth = new VaultAuthOptions { Method = VaultAuthMethod.Token, TokenPath = "/unused" },
    };

    [Test]
    public async Task The_client_trusts_Vault_through_the_configured_CA_bundle()
    {
        Assert.That(_vault.Address.Scheme, Is.EqualTo("https"));
        using var client = new VaultHttpClient(Options(_certificates.WriteCaPem(_dir)));

        var reply = await client.SendAsync(HttpMethod.Get, "auth/token/lookup-self", _vault.RootToken);

        Assert.That(reply.StatusCode, Is.EqualTo(200));
        Assert.That(await client.IsReachableAsync(), Is.True);
    }

    [Test]
    public void Without_the_CA_the_platform_roots_do_not_trust_Vault()
    {
        using var client = new VaultHttpClient(Options(null));

        var error = Assert.ThrowsAsync<VaultException>(async () => await client.SendAsync(HttpMethod.Get, "sys/health", null));

        Assert.That(error!.Kind, Is.EqualTo(VaultErrorKind.Unavailable));
        Assert.That(error.Message, Does.Contain("SecureConnectionError"));
    }

    [Test]
    public void A_different_CA_is_not_trusted()
    {
        using var other = TestCertificates.Create("CN=Some Other CA");
        var otherDir = Directory.CreateDirectory(Path.Combine(_dir, "other")).FullName;
        using var client = new VaultHttpClient(Options(other.WriteCaPem(otherDir)));

        var error = Assert.ThrowsAsync<VaultException>(async () => await client.SendAsync(HttpMethod.Get, "sys/health", null));

        Assert.That(error!.Kind, Is.EqualTo(VaultErrorKind.Unavailable));
        Assert.That(_vault.Requests, Is.Empty, "no request may leave over an untrusted connection");
    }

    [Test]
    public void A_CA_bundle_without_certificates_is_a_start_up_error()
    {
        var empty = Path.Combine(_dir, "empty.pem");
        File.WriteAllText(empty, "not a certificate\n");

        Assert.That(() => new VaultHttpClient(Options(empty)), Throws.InvalidOperationException.With.Message.Contains("contains no certificate"));
    }
}
