using System.Buffers.Text;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using JitBroker.Cli;
using JitBroker.Protocol.V1;
using JitBroker.Testing;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Issue 3: the OIDC (Kubernetes service-account token) and X.509-SVID (mutual TLS) attestors end to end through
/// RequestCredential on a running broker. (JWT-SVID end to end: <see cref="EndToEndTests"/>.)
/// </summary>
[NonParallelizable]
public sealed class AttestorE2ETests
{
    private const string ReportsAudience = "https://reports.internal.example";
    private readonly List<IDisposable> _disposables = [];
    private TestOidcIssuer _oidc = null!;
    private PolicyDirectory _policy = null!;
    private BrokerServerFixture _broker = null!;
    private X509Certificate2 _serverCertificate = null!;
    private X509Certificate2 _ca = null!;
    private Uri _mtls = null!;
    private string _pki = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _oidc = await TestOidcIssuer.StartAsync();
        _policy = new PolicyDirectory().Write("10-agents.yaml", E2E.AnyAgentTicketsPolicy).Write("20-k8s.yaml", $$"""
            version: 1
            rules:
              - id: k8s-planner-reports
                effect: allow
                principals:
                  issuers: ["{{_oidc.Issuer}}"]
                  namespaces: ["agents"]
                  service_accounts: ["planner"]
                actions: ["reports.read"]
                credential: { kind: jwt, audiences: ["{{ReportsAudience}}"], max_ttl: 5m }
            """);

        var now = TimeProvider.System.GetUtcNow();
        _ca = Track(X509SvidFactory.CreateCa("dev.jitbroker.local", now.AddHours(-1), now.AddHours(1)));
        var pki = _pki = Directory.CreateTempSubdirectory("jitbroker-pki-").FullName;
        var bundle = X509SvidFactory.WritePemFile(Path.Combine(pki, "x509-bundle.pem"), _ca);
        _serverCertificate = Track(ServerCertificate(now));
        var certPath = Path.Combine(pki, "server.pem");
        var keyPath = Path.Combine(pki, "server.key");
        await File.WriteAllTextAsync(certPath, _serverCertificate.ExportCertificatePem());
        await File.WriteAllTextAsync(keyPath, _serverCertificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());

        _broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Policy:Path"] = _policy.Path,
            ["JitBroker:Attestation:Oidc:Issuers:0:Issuer"] = _oidc.Issuer,
            ["JitBroker:Attestation:Oidc:Issuers:0:Audience"] = TestOidcIssuer.Audience,
            ["JitBroker:Attestation:Oidc:Issuers:0:AllowInsecureHttp"] = "true",
            ["JitBroker:Attestation:Oidc:Issuers:0:SubjectPatterns:0"] = "system:serviceaccount:agents:*",
            ["JitBroker:Listen:Mtls"] = "127.0.0.1:0",
            ["JitBroker:Listen:MtlsCertificatePath"] = certPath,
            ["JitBroker:Listen:MtlsKeyPath"] = keyPath,
            ["JitBroker:Attestation:X509Svid:TrustBundles:dev.jitbroker.local"] = bundle,
        });
        _mtls = _broker.Services.GetRequiredService<BoundEndpoints>().MtlsUri!;
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _broker.DisposeAsync();
        await _oidc.DisposeAsync();
        _policy.Dispose();
        _disposables.ForEach(d => d.Dispose());
        Directory.Delete(_pki, recursive: true);
    }

    private T Track<T>(T disposable)
        where T : IDisposable
    {
        _disposables.Add(disposable);
        return disposable;
    }

    [Test]
    public async Task A_kubernetes_service_account_token_gets_a_credential_by_namespace_and_service_account()
    {
        using var client = _broker.Client();
        var request = BrokerClient.NewRequest("k8s-1", "reports.read", ReportsAudience, ttl: TimeSpan.FromMinutes(1));
        RequestCredentialResponse? issued = null;
        // The broker fetches discovery and JWKS in the background at start; until then it fails closed.
        Assert.That(await Eventually.TrueAsync(async () =>
        {
            try
            {
                issued = await client.RequestCredentialAsync(_oidc.Token("agents", "planner"), request);
                return true;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated && E2E.Reason(e) == "token.bundle_unavailable")
            {
                return false;
            }
        }, TimeSpan.FromSeconds(15)), Is.True, "the OIDC issuer's keys are fetched");

        Assert.That(_oidc.JwksHits, Is.GreaterThanOrEqualTo(1), "keys came from the issuer's JWKS, found through discovery");
        Assert.That(issued!.RuleIds, Is.EqualTo(new[] { "k8s-planner-reports" }));
        var claims = Payload(issued.Credential.Token);
        Assert.That(claims.GetProperty("sub").GetString(), Is.EqualTo(_oidc.Issuer + "#system:serviceaccount:agents:planner"));
        var introspected = await client.IntrospectAsync(_oidc.Token("agents", "planner"), issued.Credential.Token);
        Assert.That(introspected.Active, Is.True);

        var otherAccount = Assert.ThrowsAsync<RpcException>(() => client.RequestCredentialAsync(_oidc.Token("agents", "intruder"), request));
        Assert.That(otherAccount!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied), "attested, but the rule names another service account");
        var otherNamespace = Assert.ThrowsAsync<RpcException>(() => client.RequestCredentialAsync(_oidc.Token("kube-system", "planner"), request));
        Assert.That(otherNamespace!.StatusCode, Is.EqualTo(StatusCode.Unauthenticated), "the issuer's subject patterns admit only namespace agents");
        var wrongAudience = Assert.ThrowsAsync<RpcException>(() => client.RequestCredentialAsync(_oidc.Token("agents", "planner", "kubernetes"), request));
        Assert.That(wrongAudience!.StatusCode, Is.EqualTo(StatusCode.Unauthenticated));

        var ended = await client.EndTaskAsync(_oidc.Token("agents", "planner"), "k8s-1");
        Assert.That(ended.Leases.Single().Outcome, Is.EqualTo(LeaseOutcome.Types.Outcome.Revoked));
    }

    [Test]
    public async Task An_x509_svid_over_mutual_tls_gets_a_credential_bound_to_the_certificate()
    {
        var now = TimeProvider.System.GetUtcNow();
        using var leaf = X509SvidFactory.CreateLeaf(_ca, BrokerServerFixture.SupportBot, now.AddMinutes(-5), now.AddMinutes(30));
        using var handler = Handler(leaf);
        using var grpc = new BrokerClient(_mtls, handler);

        var issued = await grpc.Generated.RequestCredentialAsync(E2E.Tickets("x509-1"), BrokerClient.Options(null, TimeSpan.FromSeconds(30)));

        Assert.That(issued.LeaseId, Does.StartWith("lease_"));
        var claims = Payload(issued.Credential.Token);
        Assert.That(claims.GetProperty("sub").GetString(), Is.EqualTo(BrokerServerFixture.SupportBot));
        var expected = Base64Url.EncodeToString(SHA256.HashData(leaf.RawData));
        Assert.That(claims.GetProperty("cnf").GetProperty("x5t#S256").GetString(), Is.EqualTo(expected), "the credential is bound to the client certificate");

        var ended = await grpc.Generated.EndTaskAsync(new EndTaskRequest { TaskId = "x509-1" }, BrokerClient.Options(null, TimeSpan.FromSeconds(30)));
        Assert.That(ended.Leases.Single().LeaseId, Is.EqualTo(issued.LeaseId));
    }

    [Test]
    public void A_client_certificate_from_an_untrusted_ca_is_unauthenticated()
    {
        var now = TimeProvider.System.GetUtcNow();
        using var rogueCa = X509SvidFactory.CreateCa("dev.jitbroker.local", now.AddHours(-1), now.AddHours(1));
        using var leaf = X509SvidFactory.CreateLeaf(rogueCa, BrokerServerFixture.SupportBot, now.AddMinutes(-5), now.AddMinutes(30));
        using var handler = Handler(leaf);
        using var grpc = new BrokerClient(_mtls, handler);

        var ex = Assert.ThrowsAsync<RpcException>(async () => await grpc.Generated.RequestCredentialAsync(E2E.Tickets("x509-rogue"),
            BrokerClient.Options(null, TimeSpan.FromSeconds(30))));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.Unauthenticated));
        Assert.That(E2E.Reason(ex), Is.Not.Null.And.Not.Empty);
    }

    /// <summary>A client transport that presents <paramref name="certificate"/> and trusts exactly the broker's test server certificate.</summary>
    private SocketsHttpHandler Handler(X509Certificate2 certificate) => new()
    {
        SslOptions = new SslClientAuthenticationOptions
        {
            ClientCertificates = [certificate],
            LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate,
            RemoteCertificateValidationCallback = (_, presented, _, _) =>
                presented is not null && presented.GetRawCertData().AsSpan().SequenceEqual(_serverCertificate.RawData),
        },
    };

    private static X509Certificate2 ServerCertificate(DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=jitbroker-test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(X509SvidFactory.ServerAuthOid)], false));
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddHours(1));
    }

    private static JsonElement Payload(string jwt) => JsonDocument.Parse(Base64Url.DecodeFromChars(jwt.Split('.')[1])).RootElement;
}
