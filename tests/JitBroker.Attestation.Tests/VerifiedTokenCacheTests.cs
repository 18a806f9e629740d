using System.Security.Cryptography;
using JitBroker.Core;
using NUnit.Framework;
using static JitBroker.Attestation.Tests.SvidFixture;

namespace JitBroker.Attestation.Tests;

/// <summary>
/// The verified-token cache must never accept a token the verifier would refuse at that instant: every refusal case
/// here first puts the token in the cache, then changes the world (keys, clock, audience, attestor) and checks that the
/// answer is the verifier's, with the verifier's reason.
/// </summary>
[TestFixture]
public sealed class VerifiedTokenCacheTests
{
    private SvidFixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new SvidFixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    [Test]
    public async Task A_re_presented_token_is_answered_from_the_cache_with_the_verified_identity()
    {
        using var attestor = _f.Attestor();
        var token = _f.Token();
        var first = await Attest(attestor, token);
        var second = await Attest(attestor, token);

        Assert.That(second, Is.SameAs(first));
        Assert.That(Counters(attestor), Is.EqualTo(new VerifiedTokenCacheCounters(Hits: 1, Misses: 1, Dropped: 0, Evicted: 0)));
        Assert.That(second.ReplayKey, Does.StartWith("jti:"), "replay protection downstream still gets the token's replay key");
        Assert.That(second.Facts, Is.Not.InstanceOf<Dictionary<string, string>>(), "a shared identity's facts cannot be changed by a caller");
    }

    /// <summary>
    /// The transport hands the token over as a slice of its authorization header: what is verified and what keys the cache
    /// is exactly the slice, never the characters around it.
    /// </summary>
    [Test]
    public async Task A_token_sliced_from_its_header_is_verified_and_cached_by_the_slice_alone()
    {
        using var attestor = _f.Attestor();
        var token = _f.Token();
        var header = "Bearer " + token + " trailing";
        var slice = AttestationEvidence.WithBearerSlice(header, 7, token.Length, null, null);

        var first = await attestor.AttestAsync(slice);
        var second = await Attest(attestor, token);
        var otherHeader = AttestationEvidence.WithBearerSlice("bearer " + token, 7, token.Length, null, null);
        var third = await attestor.AttestAsync(otherHeader);

        Assert.That(first.Id, Is.EqualTo(SvidFixture.Subject));
        Assert.That(second, Is.SameAs(first), "the same token as a string is the same cache entry");
        Assert.That(third, Is.SameAs(first));
        Assert.That(Counters(attestor), Is.EqualTo(new VerifiedTokenCacheCounters(Hits: 2, Misses: 1, Dropped: 0, Evicted: 0)));

        // One character short of the signature, or one character of the header too many: a different token, refused.
        var cut = AttestationEvidence.WithBearerSlice(header, 7, token.Length - 1, null, null);
        var wider = AttestationEvidence.WithBearerSlice(header, 6, token.Length + 1, null, null);
        Assert.Multiple(() =>
        {
            Assert.That(async () => await attestor.AttestAsync(cut), Throws.InstanceOf<BrokerException>());
            Assert.That(async () => await attestor.AttestAsync(wider), Throws.InstanceOf<BrokerException>());
        });
        Assert.That(Counters(attestor).Hits, Is.EqualTo(2));
    }

    /// <summary>With the cache on, a verified token's fingerprint comes from the cache key's digest instead of a second hash: it must be the same text.</summary>
    [Test]
    public async Task The_fingerprint_is_the_same_with_the_cache_on_or_off()
    {
        using var cached = _f.Attestor();
        using var uncached = _f.Attestor(o => o.VerifiedTokenCache.Enabled = false);
        var token = _f.Token();

        var viaKey = await Attest(cached, token);
        var hashed = await Attest(uncached, token);

        Assert.That(viaKey.EvidenceFingerprint, Is.EqualTo(Fingerprints.Of(token)));
        Assert.That(hashed.EvidenceFingerprint, Is.EqualTo(Fingerprints.Of(token)));
    }

    [Test]
    public async Task Turned_off_it_verifies_every_time()
    {
        using var attestor = _f.Attestor(o => o.VerifiedTokenCache.Enabled = false);
        var token = _f.Token();
        var first = await Attest(attestor, token);

        Assert.That(await Attest(attestor, token), Is.Not.SameAs(first));
        Assert.That(attestor.TokenCache, Is.Null);
    }

    [Test]
    public async Task Key_removed_from_the_bundle_refuses_the_cached_token_as_soon_as_the_verifier_sees_the_new_bundle()
    {
        using var attestor = _f.Attestor();
        var token = _f.Token(Es256);
        await Attest(attestor, token);

        _f.WriteBundle(Prod, [Es384.Jwk()]);
        _f.Time.Advance(ReloadingFile<TrustBundle>.CheckInterval);

        Assert.That(Refusal(attestor, token), Is.EqualTo(Reasons.Attestation.KidUnknown));
        Assert.That(Counters(attestor).Dropped, Is.EqualTo(1));
        Assert.That(Refusal(attestor, token), Is.EqualTo(Reasons.Attestation.KidUnknown), "a refused token is never cached");
    }

    [Test]
    public async Task Kid_reused_for_a_new_key_refuses_the_cached_token()
    {
        using var attestor = _f.Attestor();
        var token = _f.Token(Es256);
        await Attest(attestor, token);

        // Same kid, other key material: a cache keyed on (trust domain, kid) would still accept the old token.
        var impostor = TestKey.Ec(Es256.Kid, ECCurve.NamedCurves.nistP256);
        _f.WriteBundle(Prod, [impostor.Jwk()]);
        _f.Time.Advance(ReloadingFile<TrustBundle>.CheckInterval);

        Assert.That(Refusal(attestor, token), Is.EqualTo(Reasons.Attestation.SignatureInvalid));
    }

    [Test]
    public async Task Bundle_rotation_that_keeps_the_key_re_verifies_the_cached_token_once_and_accepts_it()
    {
        using var attestor = _f.Attestor();
        var token = _f.Token(Es256);
        await Attest(attestor, token);

        _f.WriteBundle(Prod, [Es256.Jwk(), TestKey.Ec("prod-es256-next", ECCurve.NamedCurves.nistP256).Jwk()]);
        _f.Time.Advance(ReloadingFile<TrustBundle>.CheckInterval);
        await Attest(attestor, token);
        await Attest(attestor, token);

        Assert.That(Counters(attestor), Is.EqualTo(new VerifiedTokenCacheCounters(Hits: 1, Misses: 2, Dropped: 1, Evicted: 0)));
    }

    [Test]
    public async Task Emptied_bundle_refuses_the_cached_token()
    {
        using var attestor = _f.Attestor();
        var token = _f.Token();
        await Attest(attestor, token);

        _f.WriteBundle(Prod, []);
        _f.Time.Advance(ReloadingFile<TrustBundle>.CheckInterval);

        Assert.That(Refusal(attestor, token), Is.EqualTo(Reasons.Attestation.BundleEmpty));
    }

    [Test]
    public async Task Cached_token_is_refused_once_exp_plus_the_leeway_has_passed_and_not_a_second_before()
    {
        using var attestor = _f.Attestor();
        var token = _f.Token(claims: c => c["exp"] = _f.NowSeconds + 60);
        await Attest(attestor, token);

        _f.Time.Advance(TimeSpan.FromSeconds(60 + 30 - 1));
        await Attest(attestor, token);
        Assert.That(Counters(attestor).Hits, Is.EqualTo(1));

        _f.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.That(Refusal(attestor, token), Is.EqualTo(Reasons.Attestation.Expired));
    }

    [Test]
    public async Task Cached_token_is_refused_when_the_clock_steps_back_before_its_nbf()
    {
        using var attestor = _f.Attestor();
        var token = _f.Token(claims: c => c["nbf"] = _f.NowSeconds + 25); // within the 30 s leeway now
        await Attest(attestor, token);

        // An NTP correction: the verifier would now say "not yet valid"; so must the cache.
        _f.Time.AdjustTime(_f.Now - TimeSpan.FromSeconds(10));

        Assert.That(Refusal(attestor, token), Is.EqualTo(Reasons.Attestation.NotYetValid));
    }

    [Test]
    public async Task Cached_token_is_refused_once_it_passes_the_maximum_age()
    {
        using var attestor = _f.Attestor(o => o.MaxTokenAge = TimeSpan.FromMinutes(10));
        var token = _f.Token(claims: c => { c["iat"] = _f.NowSeconds - 60; c["exp"] = _f.NowSeconds + 900; });
        await Attest(attestor, token);

        _f.Time.Advance(TimeSpan.FromMinutes(9) + TimeSpan.FromSeconds(31));

        Assert.That(Refusal(attestor, token), Is.EqualTo(Reasons.Attestation.TooOld));
    }

    [Test]
    public async Task Tampered_signature_with_the_same_header_and_payload_is_a_miss_and_refused()
    {
        using var attestor = _f.Attestor();
        var token = _f.Token();
        await Attest(attestor, token);
        var signingInput = token[..token.LastIndexOf('.')];
        var signature = System.Buffers.Text.Base64Url.DecodeFromChars(token.AsSpan(token.LastIndexOf('.') + 1));
        signature[^1] ^= 1;
        var tampered = signingInput + "." + TestKey.B64(signature);

        Assert.That(Refusal(attestor, tampered), Is.EqualTo(Reasons.Attestation.SignatureInvalid));
        Assert.That(Refusal(attestor, token + "A"), Is.Not.Null, "a longer token with the cached one as prefix is not a hit");
        Assert.That(Counters(attestor).Hits, Is.EqualTo(0));
        Assert.That(await Attest(attestor, token), Is.Not.Null, "the genuine token is still served");
        Assert.That(Counters(attestor).Hits, Is.EqualTo(1));
    }

    [Test]
    public async Task A_second_valid_signature_over_the_same_content_is_verified_not_served_from_the_cache()
    {
        using var attestor = _f.Attestor();
        var token = _f.Token();
        await Attest(attestor, token);
        var signingInput = token[..token.LastIndexOf('.')];
        var resigned = signingInput + "." + TestKey.B64(Es256.Sign("ES256", System.Text.Encoding.ASCII.GetBytes(signingInput)));
        Assume.That(resigned, Is.Not.EqualTo(token), "ECDSA signatures are randomised");

        var identity = await Attest(attestor, resigned);

        Assert.That(Counters(attestor), Is.EqualTo(new VerifiedTokenCacheCounters(Hits: 0, Misses: 2, Dropped: 0, Evicted: 0)));
        Assert.That(identity.ReplayKey, Is.EqualTo((await Attest(attestor, token)).ReplayKey), "both spellings share one replay key downstream");
    }

    [Test]
    public async Task A_different_expected_audience_is_a_miss_and_gets_the_verifiers_answer()
    {
        using var attestor = _f.Attestor();
        var token = _f.Token();
        await Attest(attestor, token);

        var error = Assert.ThrowsAsync<BrokerException>(async () =>
            await attestor.AttestAsync(new AttestationEvidence(token) { Audiences = ["https://broker.example/oauth2/token"] }))!;
        Assert.That(error.Reason, Is.EqualTo(Reasons.Attestation.AudienceMismatch));

        await attestor.AttestAsync(new AttestationEvidence(token) { Audiences = [Audience] });
        Assert.That(Counters(attestor), Is.EqualTo(new VerifiedTokenCacheCounters(Hits: 0, Misses: 3, Dropped: 0, Evicted: 0)));
    }

    [Test]
    public async Task An_attestor_for_other_trust_domains_never_sees_a_token_another_attestor_cached()
    {
        using var prod = _f.Attestor();
        using var other = _f.Attestor(o => o.TrustBundles = new() { [Other] = _f.Bundles[Other] });
        var token = _f.Token();
        await Attest(prod, token);

        Assert.That(Refusal(other, token), Is.EqualTo(Reasons.Attestation.TrustDomainUnknown));
        Assert.That(Counters(other).Hits, Is.EqualTo(0));
    }

    [Test]
    public async Task Tokens_of_two_trust_domains_keep_their_own_entries_and_a_rotation_in_one_leaves_the_other_cached()
    {
        using var attestor = _f.Attestor();
        var prod = _f.Token();
        var other = _f.Token(OtherKey, subject: "spiffe://other.example.org/agents/x");
        await Attest(attestor, prod);
        await Attest(attestor, other);

        _f.WriteBundle(Prod, [Es384.Jwk()]);
        _f.Time.Advance(ReloadingFile<TrustBundle>.CheckInterval);

        Assert.That(Refusal(attestor, prod), Is.EqualTo(Reasons.Attestation.KidUnknown));
        Assert.That((await Attest(attestor, other)).TrustDomain, Is.EqualTo(Other));
        Assert.That(Counters(attestor).Hits, Is.EqualTo(1));
    }

    [Test]
    public async Task A_full_cache_evicts_the_tokens_nearest_to_expiry_and_every_token_still_gets_the_verifiers_answer()
    {
        using var attestor = _f.Attestor(o => o.VerifiedTokenCache.MaxEntries = 16);
        var tokens = Enumerable.Range(0, 17).Select(i => _f.Token(claims: c => c["exp"] = _f.NowSeconds + 100 + i)).ToArray();
        foreach (var token in tokens)
        {
            await Attest(attestor, token);
        }

        Assert.That(attestor.TokenCache!.Count, Is.EqualTo(15), "trimmed to 90% of 16 (15) once the 17th went in");
        Assert.That(Counters(attestor).Evicted, Is.EqualTo(2));

        foreach (var token in tokens.Reverse())
        {
            await Attest(attestor, token);
        }

        Assert.That(Counters(attestor).Hits, Is.EqualTo(15), "the 15 latest-expiring tokens were kept, the 2 earliest re-verified");

        _f.WriteBundle(Prod, [Es384.Jwk()]);
        _f.Time.Advance(ReloadingFile<TrustBundle>.CheckInterval);
        foreach (var token in tokens)
        {
            Assert.That(Refusal(attestor, token), Is.EqualTo(Reasons.Attestation.KidUnknown));
        }
    }

    [Test]
    public async Task Many_threads_presenting_one_token_all_get_the_same_identity_and_one_entry()
    {
        using var attestor = _f.Attestor();
        var token = _f.Token();
        const int calls = 2000;

        var identities = await Task.WhenAll(Enumerable.Range(0, calls).Select(_ => Task.Run(() => Attest(attestor, token))));

        Assert.That(identities.Select(i => i.Id).Distinct(), Is.EqualTo(new[] { Subject }));
        var counters = Counters(attestor);
        Assert.That(counters.Hits + counters.Misses, Is.EqualTo(calls));
        Assert.That(counters.Misses, Is.LessThan(calls / 10), "only calls racing the first verification miss");
        Assert.That(attestor.TokenCache!.Count, Is.EqualTo(1));

        _f.WriteBundle(Prod, []);
        _f.Time.Advance(ReloadingFile<TrustBundle>.CheckInterval);

        // The first caller past the interval reloads; callers racing that reload still see the old bundle (by design,
        // cache or not), so the reload is let finish before the crowd arrives: from then on no thread may hit the entry.
        Assert.That(Refusal(attestor, token), Is.EqualTo(Reasons.Attestation.BundleEmpty));
        var reasons = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Task.Run(() => Refusal(attestor, token))));
        Assert.That(reasons.Distinct(), Is.EqualTo(new[] { Reasons.Attestation.BundleEmpty }));
    }

    [Test]
    public void Options_validation_bounds_the_size()
    {
        var options = _f.Options();
        options.VerifiedTokenCache.MaxEntries = 0;

        Assert.That(options.Validate(), Has.One.Contains("JwtSvid:VerifiedTokenCache:MaxEntries"));
        Assert.Throws<InvalidOperationException>(() => _f.Attestor(o => o.VerifiedTokenCache.MaxEntries = 2_000_000));
    }

    private static async Task<WorkloadIdentity> Attest(JwtSvidAttestor attestor, string token) =>
        await attestor.AttestAsync(new AttestationEvidence(token));

    private static string? Refusal(JwtSvidAttestor attestor, string token)
    {
        try
        {
            attestor.AttestAsync(new AttestationEvidence(token)).AsTask().GetAwaiter().GetResult();
            return null;
        }
        catch (BrokerException e)
        {
            return e.Reason;
        }
    }

    private static VerifiedTokenCacheCounters Counters(JwtSvidAttestor attestor) => attestor.TokenCache!.Counters;

}
