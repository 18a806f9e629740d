using System.Buffers.Text;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using JitBroker.Testing;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// The OAuth door on the TLS listeners: HTTP/1.1 over TLS beside gRPC's h2 on the same port, certificate-bound tokens
/// (RFC 8705: <c>client_credentials</c> with <c>tls_client_auth</c> on the mTLS listener → <c>cnf.x5t#S256</c>, the
/// metadata's <c>mtls_endpoint_aliases</c>), and a Kubernetes/OIDC workload token as the jwt-bearer assertion.
/// </summary>
[TestFixture]
public sealed class OAuthTlsTests
{
    private readonly List<IDisposable> _disposables = [];
    private PolicyDirectory _policy = null!;
    private TestOidcIssuer _oidc = null!;
    private BrokerServerFixture _broker = null!;
    private X509Certificate2 _ca = null!;
    private X509Certificate2 _serverCertificate = null!;
    private string _pki = null!;
    private string _tlsBase = null!;
    private string _mtlsBase = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _oidc = await TestOidcIssuer.StartAsync();
        _policy = new PolicyDirectory().Write("10-tickets.yaml", E2E.AnyAgentTicketsPolicy).Write("20-k8s.yaml", $$"""
            version: 1
            rules:
              - id: k8s-tickets
                effect: allow
                principals: { issuers: ["{{_oidc.Issuer}}"], namespaces: ["agents"] }
                actions: ["tickets.read"]
                tools: ["zendesk"]
                credential: { kind: jwt, audiences: ["https://tickets.internal.example"], max_ttl: 5m }
            """);
        var now = TimeProvider.System.GetUtcNow();
        _ca = Track(X509SvidFactory.CreateCa("dev.jitbroker.local", now.AddHours(-1), now.AddHours(1)));
        _pki = Directory.CreateTempSubdirectory("jitbroker-oauth-pki-").FullName;
        var bundle = X509SvidFactory.WritePemFile(Path.Combine(_pki, "x509-bundle.pem"), _ca);
        _serverCertificate = Track(ListenerTests.ServerCertificate(now));
        var certPath = Path.Combine(_pki, "server.pem");
        var keyPath = Path.Combine(_pki, "server.key");
        await File.WriteAllTextAsync(certPath, _serverCertificate.ExportCertificatePem());
        await File.WriteAllTextAsync(keyPath, _serverCertificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        var tlsPort = OAuthDoor.FreePort();
        var mtlsPort = OAuthDoor.FreePort();
        _tlsBase = $"https://127.0.0.1:{tlsPort}";
        _mtlsBase = $"https://127.0.0.1:{mtlsPort}";
        _broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Policy:Path"] = _policy.Path,
            ["JitBroker:Issuer:Issuer"] = _tlsBase,
            ["JitBroker:Listen:Tls"] = $"127.0.0.1:{tlsPort}",
            ["JitBroker:Listen:TlsCertificatePath"] = certPath,
            ["JitBroker:Listen:TlsKeyPath"] = keyPath,
            ["JitBroker:Listen:Mtls"] = $"127.0.0.1:{mtlsPort}",
            ["JitBroker:Listen:MtlsCertificatePath"] = certPath,
            ["JitBroker:Listen:MtlsKeyPath"] = keyPath,
            ["JitBroker:OAuth:MtlsBaseUrl"] = _mtlsBase,
            ["JitBroker:Attestation:X509Svid:TrustBundles:dev.jitbroker.local"] = bundle,
            ["JitBroker:Attestation:Oidc:Issuers:0:Issuer"] = _oidc.Issuer,
            ["JitBroker:Attestation:Oidc:Issuers:0:Audience"] = TestOidcIssuer.Audience,
            ["JitBroker:Attestation:Oidc:Issuers:0:AllowInsecureHttp"] = "true",
            ["JitBroker:Attestation:Oidc:Issuers:0:SubjectPatterns:0"] = "system:serviceaccount:agents:*",
        });
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        await _broker.DisposeAsync();
        await _oidc.DisposeAsync();
        _policy.Dispose();
        _disposables.ForEach(d => d.Dispose());
        Directory.Delete(_pki, recursive: true);
    }

    [Test]
    public async Task Over_TLS_the_metadata_publishes_certificate_bound_tokens_and_the_mtls_aliases()
    {
        using var http = new HttpClient(Handler(null));
        using var response = await http.GetAsync(_tlsBase + "/.well-known/oauth-authorization-server");
        Assert.That(response.Version, Is.EqualTo(HttpVersion.Version11), "HTTP/1.1 over TLS beside gRPC's h2");
        var metadata = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(metadata.GetProperty("issuer").GetString(), Is.EqualTo(_tlsBase));
            Assert.That(metadata.GetProperty("tls_client_certificate_bound_access_tokens").GetBoolean(), Is.True);
            Assert.That(metadata.GetProperty("mtls_endpoint_aliases").GetProperty("token_endpoint").GetString(), Is.EqualTo(_mtlsBase + "/oauth2/token"));
            Assert.That(metadata.GetProperty("grant_types_supported").EnumerateArray().Select(g => g.GetString()), Does.Contain("client_credentials"));
        });
        using var cleartext = new HttpClient();
        using var onHttp = await cleartext.GetAsync(_broker.HttpUri + ".well-known/oauth-authorization-server");
        Assert.That(onHttp.StatusCode, Is.EqualTo(HttpStatusCode.OK), "embedded: the loopback HTTP listener serves the door too");
    }

    [Test]
    public async Task Client_credentials_with_an_X509_SVID_on_the_mTLS_listener_gets_a_certificate_bound_token()
    {
        var now = TimeProvider.System.GetUtcNow();
        using var leaf = X509SvidFactory.CreateLeaf(_ca, BrokerServerFixture.SupportBot, now.AddMinutes(-5), now.AddMinutes(30));
        using var http = new HttpClient(Handler(leaf));
        var body = await PostAsync(http, _mtlsBase + "/oauth2/token", ("grant_type", "client_credentials"), ("client_id", BrokerServerFixture.SupportBot),
            ("resource", BrokerServerFixture.TicketsAudience), ("scope", "tickets.read tool:zendesk"));
        Assert.That(body.TryGetProperty("access_token", out var token), Is.True, body.ToString());
        var claims = OAuthDoorTests.Claims(token.GetString()!);
        Assert.That(claims.GetProperty("cnf").GetProperty("x5t#S256").GetString(), Is.EqualTo(Base64Url.EncodeToString(SHA256.HashData(leaf.RawData))));
        Assert.That(claims.GetProperty("iss").GetString(), Is.EqualTo(_tlsBase));

        var wrongId = await PostAsync(http, _mtlsBase + "/oauth2/token", ("grant_type", "client_credentials"), ("client_id", E2E.Agent("someone-else")),
            ("resource", BrokerServerFixture.TicketsAudience), ("scope", "tickets.read tool:zendesk"));
        Assert.That(wrongId.GetProperty("error_description").GetString(), Does.StartWith("identity.claimed_id_mismatch"), "client_id must be the certificate's SPIFFE ID");
    }

    [Test]
    public async Task A_Kubernetes_service_account_token_addressed_to_the_issuer_is_a_jwt_bearer_assertion()
    {
        using var http = new HttpClient(Handler(null));
        JsonElement body = default;
        // The broker fetches the OIDC issuer's discovery and keys in the background at start; until then it fails closed.
        Assert.That(await Eventually.TrueAsync(async () =>
        {
            body = await PostAsync(http, _tlsBase + "/oauth2/token", ("grant_type", OAuthDoor.JwtBearer), ("assertion", _oidc.Token("agents", "planner", _tlsBase)),
                ("resource", BrokerServerFixture.TicketsAudience), ("scope", "tickets.read tool:zendesk"));
            return body.TryGetProperty("access_token", out _);
        }, TimeSpan.FromSeconds(15)), Is.True, body.ToString());
        Assert.That(OAuthDoorTests.Claims(body.GetProperty("access_token").GetString()!).GetProperty("sub").GetString(),
            Is.EqualTo(_oidc.Issuer + "#system:serviceaccount:agents:planner"));

        var kubernetesAudience = await PostAsync(http, _tlsBase + "/oauth2/token", ("grant_type", OAuthDoor.JwtBearer),
            ("assertion", _oidc.Token("agents", "planner2")), ("resource", BrokerServerFixture.TicketsAudience), ("scope", "tickets.read"));
        Assert.That(kubernetesAudience.GetProperty("error_description").GetString(), Does.StartWith("token.audience_mismatch"),
            "a token for the broker's gRPC audience is not an assertion for this authorization server");
    }

    private static async Task<JsonElement> PostAsync(HttpClient http, string url, params (string Name, string Value)[] form)
    {
        using var response = await http.PostAsync(url, new FormUrlEncodedContent(form.Select(p => KeyValuePair.Create(p.Name, p.Value))));
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private T Track<T>(T disposable)
        where T : IDisposable
    {
        _disposables.Add(disposable);
        return disposable;
    }

    private SocketsHttpHandler Handler(X509Certificate2? client) => new()
    {
        SslOptions = new SslClientAuthenticationOptions
        {
            ClientCertificates = client is null ? null : [client],
            LocalCertificateSelectionCallback = client is null ? null : (_, _, _, _, _) => client,
            RemoteCertificateValidationCallback = (_, presented, _, _) =>
                presented is not null && presented.GetRawCertData().AsSpan().SequenceEqual(_serverCertificate.RawData),
        },
    };
}
