using System.Text.Json;
using JitBroker.Core;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using NUnit.Framework;

namespace JitBroker.Issuance.Tests;

/// <summary>Minted tokens, checked by an independent JWT implementation (Microsoft.IdentityModel 8.x).</summary>
public sealed class JwtMintingTests
{
    private StaticSigningKeyProvider _keys = null!;

    [SetUp]
    public void SetUp() => _keys = new StaticSigningKeyProvider(SigningKey.Generate());

    [TearDown]
    public void TearDown() => _keys.Dispose();

    // IdentityModel checks lifetimes against the real clock, so these tests mint at the real time.
    private static FakeTimeProvider RealNow() => new(DateTimeOffset.UtcNow);

    private TokenValidationParameters Parameters(string? audience = null) => new()
    {
        ValidIssuer = TestData.Issuer,
        ValidAudience = audience ?? TestData.Scope.Audience,
        IssuerSigningKeys = new JsonWebKeySet(JwksDocument.Build(_keys)).GetSigningKeys(),
        ValidTypes = ["at+jwt"],
        ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
        ClockSkew = TimeSpan.FromSeconds(30),
        RequireSignedTokens = true,
        RequireExpirationTime = true,
        ValidateLifetime = true,
    };

    [Test]
    public async Task Minted_token_validates_with_IdentityModel_against_the_jwks_and_carries_every_claim()
    {
        var issuer = TestData.NewIssuer(_keys, RealNow());
        var request = TestData.Request(TimeSpan.FromMinutes(5));

        var credential = await issuer.IssueAsync(request);
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(credential.Secret, Parameters());

        Assert.That(result.IsValid, Is.True, () => result.Exception?.ToString() ?? "");
        var jwt = (JsonWebToken)result.SecurityToken;
        Assert.Multiple(() =>
        {
            Assert.That(jwt.Alg, Is.EqualTo("ES256"));
            Assert.That(jwt.Typ, Is.EqualTo("at+jwt"));
            Assert.That(jwt.Kid, Is.EqualTo(_keys.Current.KeyId));
            Assert.That(jwt.Issuer, Is.EqualTo(TestData.Issuer));
            Assert.That(jwt.Subject, Is.EqualTo(TestData.AgentId));
            Assert.That(jwt.Audiences, Is.EqualTo(new[] { TestData.Scope.Audience }));
            Assert.That(jwt.Id, Is.EqualTo(request.LeaseId));
            Assert.That(jwt.GetPayloadValue<string>("client_id"), Is.EqualTo(TestData.AgentId));
            Assert.That(jwt.GetPayloadValue<string>("task_id"), Is.EqualTo(TestData.TaskId));
            Assert.That(jwt.GetPayloadValue<string>("scope"), Is.EqualTo("repo.read tool:github.search tool:github.read_file"));
            Assert.That(jwt.GetPayloadValue<string>("action"), Is.EqualTo("repo.read"));
            Assert.That(jwt.TryGetPayloadValue<object>("cnf", out _), Is.False, "no cnf for a bearer identity");
        });

        // Types and exact values, read with a second parser straight from the payload.
        using var payload = TestData.PayloadDocument(credential.Secret);
        var root = payload.RootElement;
        var iat = root.GetProperty("iat").GetInt64();
        Assert.Multiple(() =>
        {
            Assert.That(root.GetProperty("aud").ValueKind, Is.EqualTo(JsonValueKind.String), "aud is one string, not an array");
            Assert.That(root.GetProperty("nbf").GetInt64(), Is.EqualTo(iat));
            Assert.That(root.GetProperty("exp").GetInt64() - iat, Is.EqualTo(300));
            Assert.That(root.GetProperty("tools").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(TestData.Scope.Tools));
            Assert.That(root.GetProperty("resources").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(TestData.Scope.Resources));
            Assert.That(root.EnumerateObject().Select(p => p.Name), Is.EquivalentTo(new[]
            {
                "iss", "sub", "aud", "iat", "nbf", "exp", "jti", "client_id", "task_id", "scope", "action", "tools", "resources",
            }));
        });
    }

    [Test]
    public async Task Header_is_plain_json_with_exactly_alg_typ_kid()
    {
        var credential = await TestData.NewIssuer(_keys, RealNow()).IssueAsync(TestData.Request(TimeSpan.FromMinutes(1)));
        var header = System.Text.Encoding.UTF8.GetString(Base64UrlDecode(credential.Secret.Split('.')[0]));

        Assert.That(header, Is.EqualTo($"{{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"{_keys.Current.KeyId}\"}}"),
            "no \\u002B escapes: relying parties read the header as written");
    }

    private static byte[] Base64UrlDecode(string s) =>
        Convert.FromBase64String(s.Replace('-', '+').Replace('_', '/').PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '='));

    [Test]
    public async Task IdentityModel_rejects_the_token_for_another_audience_and_once_expired()
    {
        var past = new FakeTimeProvider(DateTimeOffset.UtcNow.AddHours(-1));
        var expired = await TestData.NewIssuer(_keys, past).IssueAsync(TestData.Request(TimeSpan.FromMinutes(5)));
        var fresh = await TestData.NewIssuer(_keys, RealNow()).IssueAsync(TestData.Request());
        var handler = new JsonWebTokenHandler();

        var valid = await handler.ValidateTokenAsync(fresh.Secret, Parameters());
        var otherAudience = await handler.ValidateTokenAsync(fresh.Secret, Parameters("https://other.example"));
        var afterExpiry = await handler.ValidateTokenAsync(expired.Secret, Parameters());
        Assert.Multiple(() =>
        {
            Assert.That(valid.IsValid, Is.True);
            Assert.That(otherAudience.Exception, Is.InstanceOf<SecurityTokenInvalidAudienceException>());
            Assert.That(afterExpiry.Exception, Is.InstanceOf<SecurityTokenExpiredException>());
        });
    }

    [Test]
    public async Task Credential_times_equal_the_claims_in_whole_seconds()
    {
        var time = new FakeTimeProvider(TestData.Start.AddMilliseconds(750));
        var issuer = TestData.NewIssuer(_keys, time);

        var credential = await issuer.IssueAsync(TestData.Request(TimeSpan.FromSeconds(90.9)));

        using var payload = TestData.PayloadDocument(credential.Secret);
        var root = payload.RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(credential.Kind, Is.EqualTo("jwt"));
            Assert.That(credential.IssuedAt, Is.EqualTo(TestData.Start), "iat rounds down");
            Assert.That(credential.ExpiresAt, Is.EqualTo(TestData.Start.AddSeconds(90)), "granted TTL rounds down, never up");
            Assert.That(root.GetProperty("iat").GetInt64(), Is.EqualTo(credential.IssuedAt.ToUnixTimeSeconds()));
            Assert.That(root.GetProperty("exp").GetInt64(), Is.EqualTo(credential.ExpiresAt.ToUnixTimeSeconds()));
            Assert.That(credential.BackendHandle, Is.EqualTo(root.GetProperty("jti").GetString()));
        });
    }

    [Test]
    public async Task Cnf_is_added_only_for_identities_attested_over_mtls()
    {
        var issuer = TestData.NewIssuer(_keys);

        var bound = await issuer.IssueAsync(TestData.Request(agent: TestData.Agent(TestData.CertThumbprint)));
        var bearer = await issuer.IssueAsync(TestData.Request(agent: TestData.Agent()));

        using var boundPayload = TestData.PayloadDocument(bound.Secret);
        using var bearerPayload = TestData.PayloadDocument(bearer.Secret);
        var cnf = boundPayload.RootElement.GetProperty("cnf");
        Assert.Multiple(() =>
        {
            Assert.That(cnf.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "x5t#S256" }));
            Assert.That(cnf.GetProperty("x5t#S256").GetString(), Is.EqualTo(TestData.CertThumbprint));
            Assert.That(bearerPayload.RootElement.TryGetProperty("cnf", out _), Is.False);
        });
    }

    [Test]
    public async Task Scope_of_a_grant_without_tools_is_the_action_alone()
    {
        var issuer = TestData.NewIssuer(_keys);
        var credential = await issuer.IssueAsync(TestData.Request(scope: new GrantedScope("aud-1", "deploy", [], [])));

        using var payload = TestData.PayloadDocument(credential.Secret);
        Assert.Multiple(() =>
        {
            Assert.That(payload.RootElement.GetProperty("scope").GetString(), Is.EqualTo("deploy"));
            Assert.That(payload.RootElement.GetProperty("tools").GetArrayLength(), Is.Zero);
        });
    }

    [TestCase("", "read", "tool", 60.0, TestName = "no audience")]
    [TestCase("aud", "read files", "tool", 60.0, TestName = "action with a space")]
    [TestCase("aud", "read", "tool \"x\"", 60.0, TestName = "tool with a space and quotes")]
    [TestCase("aud", "read", "tool", 0.5, TestName = "lifetime under one second")]
    public void A_grant_a_jwt_cannot_carry_is_refused(string audience, string action, string tool, double ttlSeconds)
    {
        var issuer = TestData.NewIssuer(_keys);
        var request = TestData.Request(TimeSpan.FromSeconds(ttlSeconds), scope: new GrantedScope(audience, action, [tool], []));

        var error = Assert.ThrowsAsync<BrokerException>(async () => await issuer.IssueAsync(request));
        Assert.That(error!.Reason, Is.EqualTo(Reasons.Issuance.JwtGrantInvalid));
    }

    [Test]
    public async Task Revoke_reports_revoked_because_a_jwt_has_no_source_to_recall_it_from()
    {
        var issuer = TestData.NewIssuer(_keys);
        var lease = new Lease
        {
            LeaseId = LeaseIds.New(), TaskId = TestData.TaskId, AgentId = TestData.AgentId, IssuerKind = "jwt",
            BackendHandle = "x", Scope = TestData.Scope, IssuedAt = TestData.Start, ExpiresAt = TestData.Start.AddMinutes(5),
            CredentialFingerprint = "sha256:00",
        };

        var result = await issuer.RevokeAsync(lease);

        Assert.Multiple(() =>
        {
            Assert.That(result.Status, Is.EqualTo(RevocationStatus.Revoked));
            Assert.That(issuer.Kind, Is.EqualTo(JwtCredentialIssuer.KindName));
        });
    }

    [Test]
    public async Task Credential_ToString_does_not_contain_the_token()
    {
        var credential = await TestData.NewIssuer(_keys).IssueAsync(TestData.Request());

        var text = credential.ToString();

        Assert.Multiple(() =>
        {
            Assert.That(text, Does.Not.Contain(credential.Secret));
            Assert.That(text, Does.Not.Contain(TestData.Segments(credential.Secret)[2]), "not even the signature");
            Assert.That(text, Does.Contain(credential.Fingerprint));
        });
    }

    [Test]
    public void Concurrent_minting_yields_distinct_tokens_that_all_verify()
    {
        var issuer = TestData.NewIssuer(_keys);
        var tokens = new string[256];

        Parallel.For(0, tokens.Length, i => tokens[i] = issuer.IssueAsync(TestData.Request()).AsTask().GetAwaiter().GetResult().Secret);

        Assert.Multiple(() =>
        {
            Assert.That(tokens.Distinct().Count(), Is.EqualTo(tokens.Length));
            Assert.That(tokens.Where(t => issuer.Verify(t) is null), Is.Empty);
        });
    }

    [Test]
    public void Invalid_options_are_refused_at_construction()
    {
        var error = Assert.Throws<BrokerException>(() => TestData.NewIssuer(_keys, issuer: "not a url"));
        Assert.That(error!.Reason, Is.EqualTo(Reasons.Issuance.JwtOptionsInvalid));
    }

    [TestCase("https://jitbroker.local", "at+jwt", true)]
    [TestCase("http://127.0.0.1:8443", "at+jwt", true)]
    [TestCase("http://jitbroker.local", "at+jwt", false)]
    [TestCase("https://jitbroker.local/?a=b", "at+jwt", false)]
    [TestCase("https://jitbroker.local/#x", "at+jwt", false)]
    [TestCase("jitbroker", "at+jwt", false)]
    [TestCase("", "at+jwt", false)]
    [TestCase("https://jitbroker.local", "", false)]
    [TestCase("https://jitbroker.local", "at jwt", false)]
    public void Issuer_options_validation(string issuer, string tokenType, bool valid) =>
        Assert.That(TestData.Options(issuer, tokenType).Validate(), valid ? Is.Empty : Is.Not.Empty);
}
