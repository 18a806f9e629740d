using System.Net;
using System.Security.Cryptography;
using JitBroker.OAuth;
using JitBroker.ToolGuard.Tests.Support;
using NUnit.Framework;

namespace JitBroker.ToolGuard.Tests;

/// <summary>
/// DPoP-bound tokens from the real broker (RFC 9449 <c>cnf.jkt</c>) at the tool: accepted only with the DPoP scheme and
/// a fresh proof of the bound key for this method and URL carrying ath; every other presentation is 401 with a DPoP
/// challenge listing the algorithms.
/// </summary>
[TestFixture]
public sealed class DpopTests
{
    private Broker _broker = null!;
    private ToolServer _tool = null!;
    private HttpClient _http = null!;
    private ECDsa _key = null!;
    private string _token = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _broker = await Broker.StartAsync();
        _tool = await ToolServer.StartAsync(o =>
        {
            o.Issuer = _broker.Issuer;
            o.WorkloadToken = _broker.ToolSvidAsync;
            o.UseReports.Enabled = false;
        });
        _http = new HttpClient();
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _token = await _broker.TokenAsync(Broker.Agent("dpop-holder"), dpopKey: _key);
        Assert.That(Broker.Claims(_token).GetProperty("cnf").GetProperty("jkt").GetString(), Is.EqualTo(Dpop.Thumbprint(_key)));
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _key.Dispose();
        _http.Dispose();
        await _tool.DisposeAsync();
        await _broker.DisposeAsync();
    }

    private string Url => _tool.BaseUrl + "/tickets/42";

    [Test]
    public async Task A_bound_token_with_the_DPoP_scheme_and_a_proof_of_its_key_is_allowed()
    {
        using var response = await _http.SendAsync(Challenges.Get(Url + "?q=1", "DPoP", _token, Dpop.Proof(_key, "GET", Url, _token)));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Without_a_proof_it_is_refused_with_a_DPoP_challenge()
    {
        using var response = await _http.SendAsync(Challenges.Get(Url, "DPoP", _token));
        AssertDpopChallenge(response, ToolGuardReasons.DpopProofMissing, OAuthErrors.InvalidDpopProof);
    }

    [Test]
    public async Task Presented_as_a_bearer_token_it_is_refused()
    {
        using var response = await _http.SendAsync(Challenges.Get(Url, "Bearer", _token, Dpop.Proof(_key, "GET", Url, _token)));
        AssertDpopChallenge(response, ToolGuardReasons.DpopBoundAsBearer, "invalid_token");
    }

    [Test]
    public async Task A_replayed_proof_is_refused()
    {
        var proof = Dpop.Proof(_key, "GET", Url, _token);
        using var first = await _http.SendAsync(Challenges.Get(Url, "DPoP", _token, proof));
        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var again = await _http.SendAsync(Challenges.Get(Url, "DPoP", _token, proof));
        AssertDpopChallenge(again, OAuthReasons.DpopProofReplayed, OAuthErrors.InvalidDpopProof);
    }

    [Test]
    public async Task A_proof_for_another_URL_or_method_is_refused()
    {
        using var url = await _http.SendAsync(Challenges.Get(Url, "DPoP", _token, Dpop.Proof(_key, "GET", _tool.BaseUrl + "/tickets/43", _token)));
        AssertDpopChallenge(url, OAuthReasons.DpopHtuMismatch, OAuthErrors.InvalidDpopProof);
        using var method = await _http.SendAsync(Challenges.Get(Url, "DPoP", _token, Dpop.Proof(_key, "POST", Url, _token)));
        AssertDpopChallenge(method, OAuthReasons.DpopHtmMismatch, OAuthErrors.InvalidDpopProof);
    }

    [Test]
    public async Task A_request_whose_Host_header_names_the_proofs_URL_is_still_judged_by_the_configured_public_URL()
    {
        var proof = Dpop.Proof(_key, "GET", "http://attacker.example/tickets/42", _token);
        using var request = Challenges.Get(Url, "DPoP", _token, proof);
        request.Headers.Host = "attacker.example";
        using var response = await _http.SendAsync(request);
        AssertDpopChallenge(response, OAuthReasons.DpopHtuMismatch, OAuthErrors.InvalidDpopProof);
    }

    [Test]
    public async Task A_proof_signed_by_another_key_is_refused()
    {
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var response = await _http.SendAsync(Challenges.Get(Url, "DPoP", _token, Dpop.Proof(other, "GET", Url, _token)));
        AssertDpopChallenge(response, ToolGuardReasons.DpopKeyMismatch, OAuthErrors.InvalidDpopProof);
    }

    [Test]
    public async Task A_proof_without_ath_or_for_another_token_is_refused()
    {
        using var missing = await _http.SendAsync(Challenges.Get(Url, "DPoP", _token, Dpop.Proof(_key, "GET", Url)));
        AssertDpopChallenge(missing, OAuthReasons.DpopAthMissing, OAuthErrors.InvalidDpopProof);
        using var wrong = await _http.SendAsync(Challenges.Get(Url, "DPoP", _token, Dpop.Proof(_key, "GET", Url, "another-token")));
        AssertDpopChallenge(wrong, OAuthReasons.DpopAthMismatch, OAuthErrors.InvalidDpopProof);
    }

    [Test]
    public async Task A_stale_proof_two_proofs_or_garbage_are_refused()
    {
        using var stale = await _http.SendAsync(Challenges.Get(Url, "DPoP", _token, Dpop.Proof(_key, "GET", Url, _token, iat: DateTimeOffset.UtcNow.AddMinutes(-5))));
        AssertDpopChallenge(stale, OAuthReasons.DpopIatTooOld, OAuthErrors.InvalidDpopProof);
        using var two = Challenges.Get(Url, "DPoP", _token, Dpop.Proof(_key, "GET", Url, _token));
        two.Headers.Add("DPoP", Dpop.Proof(_key, "GET", Url, _token));
        using var twice = await _http.SendAsync(two);
        AssertDpopChallenge(twice, ToolGuardReasons.DpopProofRepeated, OAuthErrors.InvalidDpopProof);
        using var garbage = await _http.SendAsync(Challenges.Get(Url, "DPoP", _token, "a.b.c"));
        AssertDpopChallenge(garbage, OAuthReasons.DpopProofMalformed, OAuthErrors.InvalidDpopProof);
    }

    [Test]
    public async Task An_unbound_token_sent_with_the_DPoP_scheme_is_refused()
    {
        var unbound = await _broker.TokenAsync(Broker.Agent("unbound"));
        using var response = await _http.SendAsync(Challenges.Get(Url, "DPoP", unbound, Dpop.Proof(_key, "GET", Url, unbound)));
        AssertDpopChallenge(response, ToolGuardReasons.DpopSchemeUnbound, "invalid_token");
    }

    [TestCase("caf\u00e9.proof.x")]
    [TestCase("\u4e2d\u6587")]
    public async Task A_non_ASCII_DPoP_header_is_refused_with_a_clear_status_never_a_server_error(string proof)
    {
        // HttpClient will not send it; a raw request does, as UTF-8 bytes.
        var uri = new Uri(Url);
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(uri.Host, uri.Port);
        var stream = socket.GetStream();
        var head = $"GET {uri.PathAndQuery} HTTP/1.1\r\nHost: {uri.Authority}\r\nAuthorization: DPoP {_token}\r\nDPoP: {proof}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(head));
        using var reader = new StreamReader(stream, System.Text.Encoding.Latin1);
        var answer = await reader.ReadToEndAsync();
        var status = int.Parse(answer.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(status, Is.EqualTo(400).Or.EqualTo(401), answer);
        if (status == 401)
        {
            Assert.That(answer, Does.Contain("jitbroker-reason: dpop."), "a refusal ToolGuard made carries its reason");
        }
    }

    private static void AssertDpopChallenge(HttpResponseMessage response, string reason, string error)
    {
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        var dpop = Challenges.Of(response).Single(c => c.StartsWith("DPoP ", StringComparison.Ordinal));
        Assert.That(dpop, Does.StartWith("DPoP algs=\"ES256 ES384 RS256 PS256\"").And.Contain($"error=\"{error}\"")
            .And.Contain($"error_description=\"{reason}:").And.Contain("resource_metadata=\""));
        Assert.That(Challenges.Reason(response), Is.EqualTo(reason));
    }
}
