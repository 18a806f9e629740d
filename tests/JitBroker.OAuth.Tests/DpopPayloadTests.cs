using System.Text.Json.Nodes;
using NUnit.Framework;

namespace JitBroker.OAuth.Tests;

/// <summary>RFC 9449 §4.3 after the signature: jti, htm, htu, iat, ath.</summary>
public sealed class DpopPayloadTests : DpopTestBase
{
    private const string AccessToken = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";

    // RFC 9449 §4.2's example: the ath of the access token above.
    private const string AccessTokenHash = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo";

    [TestCase("not json", TestName = "A payload that is not JSON is refused")]
    [TestCase("\"jti\"", TestName = "A payload that is a string is refused")]
    [TestCase("{\"jti\":\"a\",", TestName = "A truncated payload is refused")]
    public async Task A_payload_that_is_not_a_json_object_is_refused(string payload) =>
        await Refused(Key.SignRaw(Key.Header().ToJsonString(), payload), OAuthReasons.DpopPayloadMalformed);

    [Test]
    public async Task A_payload_naming_htu_twice_is_refused()
    {
        var payload = Payload().ToJsonString().Replace("\"htm\":", "\"htu\":\"https://evil.example/\",\"htm\":", StringComparison.Ordinal);
        await Refused(Key.SignRaw(Key.Header().ToJsonString(), payload), OAuthReasons.DpopDuplicateMember);
    }

    [Test]
    public async Task A_missing_jti_is_refused() => await Refused(ProofWithPayload("jti", null), OAuthReasons.DpopJtiInvalid);

    [Test]
    public async Task An_empty_jti_is_refused() => await Refused(ProofWithPayload("jti", ""), OAuthReasons.DpopJtiInvalid);

    [Test]
    public async Task A_numeric_jti_is_refused() => await Refused(ProofWithPayload("jti", 42), OAuthReasons.DpopJtiInvalid);

    [Test]
    public async Task A_jti_over_256_characters_is_refused() => await Refused(ProofWithPayload("jti", new string('j', 257)), OAuthReasons.DpopJtiInvalid);

    [Test]
    public async Task A_jti_of_256_characters_is_accepted() =>
        Assert.That((await Validate(ProofWithPayload("jti", new string('j', 256)))).Jti, Has.Length.EqualTo(256));

    [Test]
    public async Task A_missing_htm_is_refused() => await Refused(ProofWithPayload("htm", null), OAuthReasons.DpopHtmInvalid);

    [Test]
    public async Task An_array_htm_is_refused() => await Refused(ProofWithPayload("htm", new JsonArray("POST")), OAuthReasons.DpopHtmInvalid);

    [TestCase("post")]
    [TestCase("GET")]
    [TestCase("POST ")]
    public async Task An_htm_other_than_the_request_method_is_refused(string htm) =>
        await Refused(ProofWithPayload("htm", htm), OAuthReasons.DpopHtmMismatch);

    [TestCase("https://broker.example/oauth/token", "https://broker.example/oauth/token", TestName = "The same htu matches")]
    [TestCase("HTTPS://Broker.EXAMPLE/oauth/token", "https://broker.example/oauth/token", TestName = "Scheme and host match case-insensitively")]
    [TestCase("https://broker.example:443/oauth/token", "https://broker.example/oauth/token", TestName = "An explicit default port matches")]
    [TestCase("http://broker.example:80/", "http://broker.example", TestName = "An empty path matches slash")]
    [TestCase("https://broker.example/oauth/token?x=1#f", "https://broker.example/oauth/token", TestName = "The htu query and fragment are ignored")]
    [TestCase("https://broker.example/oauth/token", "https://broker.example/oauth/token?grant=1", TestName = "The request query is ignored")]
    [TestCase("https://broker.example/oauth/%7Etoken", "https://broker.example/oauth/~token", TestName = "Percent-encoded unreserved characters match")]
    [TestCase("https://broker.example/oauth/./x/../token", "https://broker.example/oauth/token", TestName = "Dot segments are removed")]
    public async Task Equivalent_htu_forms_match(string htu, string target)
    {
        var payload = Payload();
        payload["htu"] = htu;
        Assert.That((await Validate(Key.Sign(Key.Header(), payload), new DpopRequest("POST", new Uri(target)))).Algorithm, Is.EqualTo("ES256"));
    }

    [TestCase("http://broker.example/oauth/token", TestName = "An htu with another scheme is refused")]
    [TestCase("https://broker.example:8443/oauth/token", TestName = "An htu with another port is refused")]
    [TestCase("https://other.example/oauth/token", TestName = "An htu with another host is refused")]
    [TestCase("https://broker.example/oauth/Token", TestName = "An htu with a path differing in case is refused")]
    [TestCase("https://broker.example/oauth/token/", TestName = "An htu with a trailing slash is refused")]
    [TestCase("https://broker.example/oauth/introspect", TestName = "An htu for another endpoint is refused")]
    [TestCase("https://user@broker.example/oauth/token", TestName = "An htu with user info is refused")]
    public async Task An_htu_for_another_uri_is_refused(string htu) => await Refused(ProofWithPayload("htu", htu), OAuthReasons.DpopHtuMismatch);

    [TestCase("/oauth/token", TestName = "A relative htu is refused")]
    [TestCase("broker.example/oauth/token", TestName = "An htu without scheme is refused")]
    [TestCase("ftp://broker.example/oauth/token", TestName = "A non-http htu is refused")]
    [TestCase(" https://broker.example/oauth/token", TestName = "An htu with leading whitespace is refused")]
    [TestCase("https:\\\\broker.example\\oauth\\token", TestName = "An htu with backslashes is refused")]
    [TestCase("https://bröker.example/oauth/token", TestName = "A non-ASCII htu is refused")]
    [TestCase("", TestName = "An empty htu is refused")]
    public async Task An_htu_that_is_not_an_absolute_http_uri_is_refused(string htu) => await Refused(ProofWithPayload("htu", htu), OAuthReasons.DpopHtuInvalid);

    [Test]
    public async Task A_missing_htu_is_refused() => await Refused(ProofWithPayload("htu", null), OAuthReasons.DpopHtuInvalid);

    [TestCase(-65)]
    [TestCase(5)]
    [TestCase(0)]
    public async Task An_iat_within_the_window_is_accepted(int offsetSeconds) =>
        Assert.That((await Validate(ProofWithPayload("iat", Now.ToUnixTimeSeconds() + offsetSeconds))).IssuedAt, Is.EqualTo(Now.AddSeconds(offsetSeconds)));

    [Test]
    public async Task An_iat_older_than_age_plus_skew_is_refused() =>
        await Refused(ProofWithPayload("iat", Now.ToUnixTimeSeconds() - 66), OAuthReasons.DpopIatTooOld);

    [Test]
    public async Task An_iat_beyond_the_skew_in_the_future_is_refused() =>
        await Refused(ProofWithPayload("iat", Now.ToUnixTimeSeconds() + 6), OAuthReasons.DpopIatInFuture);

    [Test]
    public async Task An_iat_that_was_fresh_goes_stale_as_the_clock_moves()
    {
        var proof = GoodProof();
        Time.Advance(TimeSpan.FromSeconds(66));
        await Refused(proof, OAuthReasons.DpopIatTooOld);
    }

    [TestCase("\"1764748800\"", TestName = "A string iat is refused")]
    [TestCase("null", TestName = "A null iat is refused")]
    [TestCase("1e400", TestName = "An infinite iat is refused")]
    [TestCase("-1", TestName = "A negative iat is refused")]
    [TestCase("99999999999999", TestName = "An iat past year 9999 is refused")]
    public async Task An_iat_that_is_not_a_numeric_date_is_refused(string iat)
    {
        var payload = Payload().ToJsonString().Replace($"\"iat\":{Now.ToUnixTimeSeconds()}", "\"iat\":" + iat, StringComparison.Ordinal);
        await Refused(Key.SignRaw(Key.Header().ToJsonString(), payload), OAuthReasons.DpopIatInvalid);
    }

    [Test]
    public async Task A_missing_iat_is_refused() => await Refused(ProofWithPayload("iat", null), OAuthReasons.DpopIatInvalid);

    [Test]
    public async Task An_ath_matching_the_presented_access_token_is_accepted() =>
        Assert.That((await Validate(ProofWithPayload("ath", AccessTokenHash), new DpopRequest("POST", TokenEndpoint, AccessToken))).Algorithm, Is.EqualTo("ES256"));

    [Test]
    public async Task A_missing_ath_with_an_access_token_is_refused() =>
        await Refused(GoodProof(), OAuthReasons.DpopAthMissing, new DpopRequest("POST", TokenEndpoint, AccessToken));

    [Test]
    public async Task An_ath_of_another_access_token_is_refused() =>
        await Refused(ProofWithPayload("ath", AccessTokenHash), OAuthReasons.DpopAthMismatch, new DpopRequest("POST", TokenEndpoint, AccessToken + "x"));

    [Test]
    public async Task An_ath_in_the_standard_base64_alphabet_is_refused() =>
        await Refused(ProofWithPayload("ath", AccessTokenHash + "="), OAuthReasons.DpopAthMismatch, new DpopRequest("POST", TokenEndpoint, AccessToken));

    [Test]
    public async Task Without_an_access_token_ath_is_ignored() =>
        Assert.That((await Validate(ProofWithPayload("ath", "anything"))).Algorithm, Is.EqualTo("ES256"));
}
