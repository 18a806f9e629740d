using System.Text.Json.Nodes;
using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Issuance.Tests;

/// <summary>
/// Sender-constrained task JWTs: <c>cnf.jkt</c> for a DPoP-bound caller (RFC 9449 §6.1), <c>cnf.x5t#S256</c> for mTLS
/// (RFC 8705 §3.1), both in one <c>cnf</c> when both were proved; Verify reports them and the <c>act</c> chain.
/// </summary>
public sealed class ConfirmationClaimTests
{
    private const string Jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

    private StaticSigningKeyProvider _keys = null!;
    private JwtCredentialIssuer _issuer = null!;

    [SetUp]
    public void SetUp()
    {
        _keys = new StaticSigningKeyProvider(SigningKey.Generate());
        _issuer = TestData.NewIssuer(_keys);
    }

    [TearDown]
    public void TearDown() => _keys.Dispose();

    private async Task<string> MintAsync(string? jkt, string? x5t, DelegationChain? delegation = null) =>
        (await _issuer.IssueAsync(TestData.Request(agent: TestData.Agent(x5t) with { ProofKeyThumbprint = jkt }) with { Delegation = delegation })).Secret;

    private static JsonObject Payload(string token) => TestData.DecodeSegment(TestData.Segments(token)[1]);

    [Test]
    public async Task A_dpop_bound_caller_gets_cnf_jkt_and_verify_reports_it()
    {
        var token = await MintAsync(Jkt, null);

        var claims = _issuer.Verify(token);

        Assert.Multiple(() =>
        {
            Assert.That(Payload(token)["cnf"]!.ToJsonString(), Is.EqualTo($"{{\"jkt\":\"{Jkt}\"}}"));
            Assert.That(claims?.ProofKeyThumbprint, Is.EqualTo(Jkt));
            Assert.That(claims?.CertificateThumbprint, Is.Null);
            Assert.That(claims?.IsBound, Is.True);
        });
    }

    [Test]
    public async Task Both_bindings_share_one_cnf_object()
    {
        var token = await MintAsync(Jkt, TestData.CertThumbprint);

        var claims = _issuer.Verify(token);
        var segment = System.Text.Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(TestData.Segments(token)[1]));

        Assert.Multiple(() =>
        {
            Assert.That(Payload(token)["cnf"]!.AsObject().Select(m => m.Key), Is.EqualTo(new[] { "jkt", "x5t#S256" }));
            Assert.That(segment.Split("\"cnf\"").Length - 1, Is.EqualTo(1), "one cnf member, not two");
            Assert.That(claims?.ProofKeyThumbprint, Is.EqualTo(Jkt));
            Assert.That(claims?.CertificateThumbprint, Is.EqualTo(TestData.CertThumbprint));
        });
    }

    [Test]
    public async Task Evidence_without_a_binding_gives_no_cnf()
    {
        var token = await MintAsync(null, null);

        var claims = _issuer.Verify(token);

        Assert.That(Payload(token).ContainsKey("cnf"), Is.False);
        Assert.That(claims?.IsBound, Is.False);
        Assert.That(claims?.Actors, Is.Empty);
    }

    [Test]
    public async Task Renewal_mints_the_replacement_with_the_bindings_it_is_given()
    {
        var lease = Lease(untrusted: false);

        var renewed = await _issuer.RenewAsync(lease, TestData.Agent(TestData.CertThumbprint) with { ProofKeyThumbprint = Jkt }, TestData.Start.AddMinutes(5));

        var claims = _issuer.Verify(renewed.NewSecret!);
        Assert.That(claims?.ProofKeyThumbprint, Is.EqualTo(Jkt));
        Assert.That(claims?.CertificateThumbprint, Is.EqualTo(TestData.CertThumbprint));
    }

    [Test]
    public void A_lease_record_that_failed_its_integrity_check_is_not_renewed()
    {
        var e = Assert.ThrowsAsync<BrokerException>(async () =>
            await _issuer.RenewAsync(Lease(untrusted: true), TestData.Agent(), TestData.Start.AddMinutes(5)));

        Assert.That(e!.Reason, Is.EqualTo(Reasons.Store.IntegrityCheckFailed));
    }

    [Test]
    public async Task Verify_reports_the_act_chain_current_actor_first_even_a_long_one()
    {
        string[] actors = [.. Enumerable.Range(1, 8).Select(i => $"spiffe://corp/w{9 - i}")];
        var token = await MintAsync(Jkt, null, new DelegationChain("spiffe://corp/planner", actors));

        var claims = _issuer.Verify(token);

        Assert.That(claims?.Actors, Is.EqualTo(actors));
        Assert.That(claims?.Subject, Is.EqualTo("spiffe://corp/planner"));
        Assert.That(claims?.ProofKeyThumbprint, Is.EqualTo(Jkt));
    }

    [TestCase("\"x\"", TestName = "cnf a string")]
    [TestCase("{}", TestName = "cnf empty")]
    [TestCase("{\"jkt\":5}", TestName = "cnf jkt a number")]
    [TestCase("{\"jkt\":\"\"}", TestName = "cnf jkt empty")]
    [TestCase("{\"jkt\":null}", TestName = "cnf jkt null")]
    [TestCase("{\"jwk\":{\"kty\":\"EC\"}}", TestName = "cnf with a jwk")]
    [TestCase("{\"jkt\":\"a\",\"kid\":\"b\"}", TestName = "cnf with an unknown member")]
    [TestCase("{\"jkt\":\"a\",\"jkt\":\"b\"}", TestName = "cnf with a duplicate jkt")]
    [TestCase("[\"jkt\"]", TestName = "cnf an array")]
    public async Task A_cnf_the_issuer_never_writes_is_refused(string cnf)
    {
        var token = await MintAsync(null, null);
        var payload = Payload(token).ToJsonString();
        var forged = TestData.Forge(_keys.Current, TestData.DecodeSegment(TestData.Segments(token)[0]).ToJsonString(),
            payload[..^1] + ",\"cnf\":" + cnf + "}");

        Assert.That(_issuer.Verify(forged), Is.Null);
    }

    [TestCase("\"spiffe://corp/w\"", TestName = "act a string")]
    [TestCase("{}", TestName = "act without sub")]
    [TestCase("{\"sub\":7}", TestName = "act sub a number")]
    [TestCase("{\"sub\":\"spiffe://corp/w\",\"iss\":\"x\"}", TestName = "act with an unknown member")]
    [TestCase("{\"sub\":\"spiffe://corp/w\",\"act\":[]}", TestName = "act nesting an array")]
    public async Task An_act_the_issuer_never_writes_is_refused(string act)
    {
        var token = await MintAsync(null, null);
        var payload = Payload(token).ToJsonString();
        var forged = TestData.Forge(_keys.Current, TestData.DecodeSegment(TestData.Segments(token)[0]).ToJsonString(),
            payload[..^1] + ",\"act\":" + act + "}");

        Assert.That(_issuer.Verify(forged), Is.Null);
    }

    [Test]
    public async Task The_forging_helper_itself_yields_a_token_that_verifies()
    {
        // Guards the two tests above: their refusals come from the cnf / act, not from a broken forgery.
        var token = await MintAsync(null, null);
        var payload = Payload(token).ToJsonString();
        var forged = TestData.Forge(_keys.Current, TestData.DecodeSegment(TestData.Segments(token)[0]).ToJsonString(),
            payload[..^1] + ",\"cnf\":{\"jkt\":\"" + Jkt + "\"},\"act\":{\"sub\":\"spiffe://corp/w\"}}");

        Assert.That(_issuer.Verify(forged)?.ProofKeyThumbprint, Is.EqualTo(Jkt));
        Assert.That(_issuer.Verify(forged)?.Actors, Is.EqualTo(new[] { "spiffe://corp/w" }));
    }

    private static Lease Lease(bool untrusted)
    {
        var id = LeaseIds.New();
        return new Lease
        {
            LeaseId = id, TaskId = TestData.TaskId, AgentId = TestData.AgentId, IssuerKind = JwtCredentialIssuer.KindName, BackendHandle = id,
            BackendHandleUntrusted = untrusted, Scope = TestData.Scope, IssuedAt = TestData.Start, ExpiresAt = TestData.Start.AddMinutes(2),
            CredentialFingerprint = "sha256:" + new string('0', 64), ProofKeyThumbprint = Jkt,
        };
    }
}
