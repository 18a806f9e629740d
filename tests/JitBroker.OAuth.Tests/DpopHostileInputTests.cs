using System.Text.Json.Nodes;
using Moq;
using NUnit.Framework;

namespace JitBroker.OAuth.Tests;

/// <summary>Hostile proofs beyond the one-rule-one-test cases: sizes, forged RSA parameters, a failing replay store.</summary>
public sealed class DpopHostileInputTests : DpopTestBase
{
    [Test]
    public void The_defaults_are_a_minute_five_seconds_and_8_KiB()
    {
        var options = new DpopValidationOptions();
        Assert.That((options.MaxProofAge, options.ClockSkew, options.MaxProofLength), Is.EqualTo((TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(5), 8192)));
    }

    [Test]
    public async Task A_megabyte_proof_is_refused_before_it_is_decoded() =>
        await Refused(new string('A', 1 << 20) + ".e30.AAAA", OAuthReasons.DpopProofTooLong);

    [Test]
    public async Task An_rsa_modulus_over_8192_bits_is_refused_before_import()
    {
        using var key = ProofKey.Create("RS256");
        var jwk = key.Jwk();
        jwk["n"] = ProofKey.B64(Enumerable.Repeat((byte)0xFF, 1025).ToArray());
        var header = key.Header();
        header["jwk"] = jwk;
        await Refused(key.Sign(header, Payload()), OAuthReasons.DpopJwkRsaKeySize);
    }

    [Test]
    public async Task An_rsa_modulus_with_a_leading_zero_octet_is_refused()
    {
        using var key = ProofKey.Create("RS256");
        var jwk = key.Jwk();
        jwk["n"] = ProofKey.B64([0, .. key.Rsa!.ExportParameters(false).Modulus!]);
        var header = key.Header();
        header["jwk"] = jwk;
        await Refused(key.Sign(header, Payload()), OAuthReasons.DpopJwkInvalid);
    }

    [TestCase("AQAA", TestName = "An even RSA exponent is refused")]
    [TestCase("AQ", TestName = "An RSA exponent of 1 is refused")]
    [TestCase("AQAB=", TestName = "A padded RSA exponent is refused")]
    public async Task A_bad_rsa_exponent_is_refused(string e)
    {
        using var key = ProofKey.Create("RS256");
        var jwk = key.Jwk();
        jwk["e"] = e;
        var header = key.Header();
        header["jwk"] = jwk;
        await Refused(key.Sign(header, Payload()), OAuthReasons.DpopJwkInvalid);
    }

    [Test]
    public async Task An_ec_coordinate_that_is_a_number_is_refused() =>
        await Refused(ProofWithHeader("jwk", new JsonObject { ["kty"] = "EC", ["crv"] = "P-256", ["x"] = 1, ["y"] = 2 }), OAuthReasons.DpopJwkInvalid);

    [Test]
    public async Task A_jwk_with_a_null_private_member_is_still_refused()
    {
        var header = Key.Header().ToJsonString().Replace("\"kty\":\"EC\"", "\"kty\":\"EC\",\"d\":null", StringComparison.Ordinal);
        await Refused(Key.SignRaw(header, Payload().ToJsonString()), OAuthReasons.DpopJwkPrivate);
    }

    [Test]
    public void A_failing_replay_store_fails_the_proof()
    {
        Replay.Setup(r => r.TryRecordAsync(It.IsAny<string>(), It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>()))
            .Returns(() => ValueTask.FromException<bool>(new TimeoutException("store down")));
        Assert.ThrowsAsync<TimeoutException>(async () => await Validate(GoodProof()));
    }

    [Test]
    public void Options_that_make_no_sense_are_refused_at_construction()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new DpopProofValidator(new DpopValidationOptions { MaxProofAge = TimeSpan.Zero }, Replay.Object, Time));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new DpopProofValidator(new DpopValidationOptions { ClockSkew = TimeSpan.FromSeconds(-1) }, Replay.Object, Time));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new DpopProofValidator(new DpopValidationOptions { MaxProofLength = 0 }, Replay.Object, Time));
    }

    [Test]
    public async Task The_same_proof_twice_is_refused_the_second_time_by_a_real_store()
    {
        var store = new OnceStore();
        var validator = new DpopProofValidator(Options, store, Time);
        var proof = GoodProof();
        await validator.ValidateAsync(proof, new DpopRequest("POST", TokenEndpoint));
        await Refusal.ExpectAsync(async () => await validator.ValidateAsync(proof, new DpopRequest("POST", TokenEndpoint)),
            OAuthErrors.InvalidDpopProof, OAuthReasons.DpopProofReplayed);
    }

    private sealed class OnceStore : IDpopReplayStore
    {
        private readonly HashSet<string> _seen = [];

        public ValueTask<bool> TryRecordAsync(string key, DateTimeOffset keepUntil, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(_seen.Add(key));
    }
}
