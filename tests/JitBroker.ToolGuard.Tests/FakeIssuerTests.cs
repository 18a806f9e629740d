using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using JitBroker.ToolGuard.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace JitBroker.ToolGuard.Tests;

/// <summary>
/// What the real broker never issues on demand, from an in-test authorization server with the broker's metadata shape:
/// expired and wrongly typed tokens, certificate-bound tokens (RFC 8705) over a TLS tool, and introspection that
/// answers inactive, is down (fail closed, or open when configured), is cached, or is overtaken by a revocation signal.
/// </summary>
[TestFixture]
public sealed class FakeIssuerTests
{
    private FakeAuthorizationServer _issuer = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _issuer = await FakeAuthorizationServer.StartAsync();
        _http = new HttpClient();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http.Dispose();
        await _issuer.DisposeAsync();
    }

    [SetUp]
    public void Reset() => _issuer.IntrospectionActive = true;

    private Task<ToolServer> ToolAsync(Action<ToolGuardOptions>? configure = null, X509Certificate2? tls = null) =>
        ToolServer.StartAsync(o =>
        {
            o.Issuer = _issuer.Issuer;
            o.WorkloadToken = _ => Task.FromResult("tool-svid");
            o.UseReports.Enabled = false;
            configure?.Invoke(o);
        }, tls);

    [Test]
    public async Task An_expired_token_and_a_token_that_is_not_at_jwt_are_401_invalid_token()
    {
        await using var tool = await ToolAsync();
        using var expired = await _http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/1",
            token: _issuer.Mint(issuedAt: DateTimeOffset.UtcNow.AddMinutes(-10), lifetime: TimeSpan.FromMinutes(5))));
        BrokerTokenTests.AssertInvalidToken(expired, ToolGuardReasons.TokenExpired);
        using var jwt = await _http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/1", token: _issuer.Mint(typ: "JWT")));
        BrokerTokenTests.AssertInvalidToken(jwt, ToolGuardReasons.TypInvalid);
        using var ok = await _http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/1", token: _issuer.Mint()));
        Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the same issuer's at+jwt passes: the refusals above are the checks");
    }

    [Test]
    public async Task Token_resources_are_globs_with_the_brokers_semantics()
    {
        await using var tool = await ToolAsync();
        var token = _issuer.Mint(new Dictionary<string, object> { ["resources"] = new[] { "tickets/4?" } });
        using var match = await _http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/42", token: token));
        using var miss = await _http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/420", token: token));
        Assert.That((match.StatusCode, miss.StatusCode), Is.EqualTo((HttpStatusCode.OK, HttpStatusCode.Forbidden)));
    }

    [Test]
    public async Task A_certificate_bound_token_needs_the_bound_client_certificate()
    {
        using var serverCertificate = SelfSigned("CN=127.0.0.1", server: true);
        using var bound = SelfSigned("CN=agent", server: false);
        using var other = SelfSigned("CN=thief", server: false);
        await using var tool = await ToolAsync(tls: serverCertificate);
        var token = _issuer.Mint(new Dictionary<string, object>
        {
            ["cnf"] = new Dictionary<string, object> { ["x5t#S256"] = Base64Url.EncodeToString(SHA256.HashData(bound.RawData)) },
        });

        async Task<HttpResponseMessage> CallAsync(X509Certificate2? client)
        {
            using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true, ClientCertificateOptions = ClientCertificateOption.Manual };
            if (client is not null)
            {
                handler.ClientCertificates.Add(client);
            }

            using var http = new HttpClient(handler);
            return await http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/1", token: token));
        }

        using var without = await CallAsync(null);
        BrokerTokenTests.AssertInvalidToken(without, ToolGuardReasons.CertificateMissing);
        using var wrong = await CallAsync(other);
        BrokerTokenTests.AssertInvalidToken(wrong, ToolGuardReasons.CertificateMismatch);
        using var right = await CallAsync(bound);
        Assert.That(right.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task A_malformed_cnf_is_refused_rather_than_ignored()
    {
        await using var tool = await ToolAsync();
        foreach (var cnf in new object[] { "jkt", new Dictionary<string, object> { ["jkt"] = 7 }, new Dictionary<string, object>() })
        {
            using var response = await _http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/1", token: _issuer.Mint(new Dictionary<string, object> { ["cnf"] = cnf })));
            BrokerTokenTests.AssertInvalidToken(response, ToolGuardReasons.CnfInvalid);
        }
    }

    [Test]
    public async Task Introspection_inactive_is_401_and_a_broker_that_cannot_be_asked_fails_closed()
    {
        await using var tool = await ToolAsync(o => o.Introspection.CacheDuration = TimeSpan.Zero);
        _issuer.IntrospectionActive = false;
        using var inactive = await _http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/1", token: _issuer.Mint()));
        BrokerTokenTests.AssertInvalidToken(inactive, ToolGuardReasons.Revoked);
        _issuer.IntrospectionActive = null;
        using var down = await _http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/1", token: _issuer.Mint()));
        BrokerTokenTests.AssertInvalidToken(down, ToolGuardReasons.IntrospectionUnavailable);
    }

    [Test]
    public async Task Fail_open_accepts_a_valid_token_when_the_broker_is_down()
    {
        await using var tool = await ToolAsync(o => o.Introspection.FailOpen = true);
        _issuer.IntrospectionActive = null;
        using var response = await _http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/1", token: _issuer.Mint()));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Answers_are_cached_for_the_configured_time_and_zero_asks_every_call()
    {
        await using var cached = await ToolAsync(o => o.Introspection.CacheDuration = TimeSpan.FromMinutes(1));
        var token = _issuer.Mint();
        var before = _issuer.IntrospectionCalls;
        for (var i = 0; i < 3; i++)
        {
            (await _http.SendAsync(Challenges.Get(cached.BaseUrl + "/tickets/1", token: token))).Dispose();
        }

        Assert.That(_issuer.IntrospectionCalls - before, Is.EqualTo(1));
        await using var uncached = await ToolAsync(o => o.Introspection.CacheDuration = TimeSpan.Zero);
        before = _issuer.IntrospectionCalls;
        for (var i = 0; i < 3; i++)
        {
            (await _http.SendAsync(Challenges.Get(uncached.BaseUrl + "/tickets/1", token: token))).Dispose();
        }

        Assert.That(_issuer.IntrospectionCalls - before, Is.EqualTo(3));
    }

    [Test]
    public async Task A_revocation_signal_refuses_at_once_even_while_the_cache_says_active()
    {
        await using var tool = await ToolAsync(o => o.Introspection.CacheDuration = TimeSpan.FromMinutes(1));
        var token = _issuer.Mint();
        using var first = await _http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/1", token: token));
        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        tool.Services.GetRequiredService<IRevocationSignal>().Revoke(Broker.Claims(token).GetProperty("jti").GetString()!, DateTimeOffset.UtcNow.AddMinutes(5));
        using var second = await _http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/1", token: token));
        BrokerTokenTests.AssertInvalidToken(second, ToolGuardReasons.Revoked);
    }

    [Test]
    public async Task Hostile_authorization_headers_are_401_never_500()
    {
        await using var tool = await ToolAsync();
        foreach (var value in new[] { "Bearer", "Bearer ", "Bearer not.a.jwt", "Bearer " + new string('a', 20_000), "Bearer e30.e30.", "Bearer eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.e30.", "Basic dXNlcjpwYXNz", "DPoP" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, tool.BaseUrl + "/tickets/1");
            request.Headers.TryAddWithoutValidation("Authorization", value);
            using var response = await _http.SendAsync(request);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), value[..Math.Min(20, value.Length)]);
        }

        using var twice = new HttpRequestMessage(HttpMethod.Get, tool.BaseUrl + "/tickets/1");
        twice.Headers.TryAddWithoutValidation("Authorization", ["Bearer " + _issuer.Mint(), "Bearer " + _issuer.Mint()]);
        using var repeated = await _http.SendAsync(twice);
        Assert.That(Challenges.Reason(repeated), Is.EqualTo(ToolGuardReasons.AuthorizationRepeated));
    }

    [Test]
    public async Task A_resource_with_a_path_publishes_its_metadata_under_that_path_and_points_there()
    {
        const string resource = "https://mcp.internal.example/mcp";
        await using var tool = await ToolAsync(o => o.Resource = resource);
        using var response = await _http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/1"));
        var metadataUrl = tool.BaseUrl + "/.well-known/oauth-protected-resource/mcp";
        Assert.That(Challenges.Of(response), Does.Contain($"Bearer resource_metadata=\"{metadataUrl}\""), "RFC 9728 §3.1");
        var metadata = System.Text.Json.JsonDocument.Parse(await _http.GetStringAsync(metadataUrl)).RootElement;
        Assert.That(metadata.GetProperty("resource").GetString(), Is.EqualTo(resource));
        using var ok = await _http.SendAsync(Challenges.Get(tool.BaseUrl + "/tickets/1", token: _issuer.Mint(audience: resource)));
        Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the audience is the configured resource");
    }

    private static X509Certificate2 SelfSigned(string subject, bool server)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
        }

        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }
}
