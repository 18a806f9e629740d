using System.Text;
using System.Text.Json.Nodes;
using JitBroker.Issuance;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using NUnit.Framework;

namespace JitBroker.Issuance.Tests;

/// <summary>
/// Issue 17 item 10: the token key rotates by itself on a schedule, the next key is in the JWKS before it signs, and a
/// retired key stays until its last token expired — checked by a relying party that caches the JWKS and never refetches
/// early, across two rotations on a fake clock.
/// </summary>
public sealed class KeyRotationTests
{
    private static readonly TimeSpan JwksCacheLifetime = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan TokenLifetime = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);
    // 62 minutes: the relying party's 5-minute refreshes (at 0, 5, 10, …) do not line up with the rotations (62, 124).
    private static readonly KeyRotationSchedule Hourly = new(TimeSpan.FromMinutes(62), PublishAhead: TimeSpan.FromMinutes(10), RetainAfterRetirement: TimeSpan.FromMinutes(20));

    [Test]
    public void Tokens_minted_before_between_and_after_two_rotations_verify_at_a_relying_party_caching_the_jwks()
    {
        Assert.That(Hourly.Validate(JwksCacheLifetime, TokenLifetime + ClockSkew), Is.Empty);
        var (failures, kids, provider, clock) = Run(Hourly);

        Assert.That(failures, Is.Empty, "every unexpired token verifies with the relying party's cached JWKS");
        Assert.That(kids, Has.Count.EqualTo(3), "two rotations: three keys signed");
        var published = provider.VerificationKeys.Select(k => k.KeyId).ToList();
        Assert.That(published, Does.Not.Contain(kids[0]), "the first key is gone once every token it signed has expired");
        Assert.That(published[0], Is.EqualTo(kids[2]), "the current key leads the JWKS");
        Assert.That(clock.GetUtcNow() - Start, Is.GreaterThan(2 * Hourly.Interval));
    }

    [Test]
    public void Without_publishing_ahead_the_same_relying_party_meets_keys_it_has_not_fetched()
    {
        // The control: the relying party above would notice a schedule that publishes a key only when it starts signing.
        var late = Hourly with { PublishAhead = TimeSpan.Zero };
        Assert.That(late.Validate(JwksCacheLifetime, TokenLifetime + ClockSkew), Is.Not.Empty);

        var (failures, _, _, _) = Run(late);

        Assert.That(failures, Is.Not.Empty);
    }

    [Test]
    public void A_retired_key_is_kept_exactly_for_its_retention_after_its_last_signature()
    {
        var clock = new FakeTimeProvider(Start);
        using var provider = new ScheduledRotationSigningKeyProvider(RootSecret, Start, Hourly, clock);
        var first = provider.Current.KeyId;

        clock.Advance(TimeSpan.FromMinutes(51));
        Assert.That(provider.VerificationKeys, Has.Count.EqualTo(1), "nothing announced 11 minutes ahead");
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.That(provider.VerificationKeys, Has.Count.EqualTo(2), "the next key is announced 10 minutes ahead");
        Assert.That(provider.Current.KeyId, Is.EqualTo(first), "but does not sign yet");
        clock.Advance(TimeSpan.FromMinutes(10));
        Assert.That(provider.Current.KeyId, Is.Not.EqualTo(first), "it signs from the interval's end");
        clock.Advance(TimeSpan.FromMinutes(20) - TimeSpan.FromSeconds(1));
        Assert.That(provider.VerificationKeys.Select(k => k.KeyId), Does.Contain(first), "retired, still published");
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.That(provider.VerificationKeys.Select(k => k.KeyId), Does.Not.Contain(first), "dropped after its retention");
    }

    private static readonly DateTimeOffset Start = new(2026, 12, 3, 0, 0, 0, TimeSpan.Zero);

    private static readonly byte[] RootSecret = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);

    private static (List<string> Failures, List<string> Kids, ScheduledRotationSigningKeyProvider Provider, FakeTimeProvider Clock) Run(KeyRotationSchedule schedule)
    {
        var clock = new FakeTimeProvider(Start);
        var provider = new ScheduledRotationSigningKeyProvider(RootSecret, Start, schedule, clock);
        var relyingParty = new CachingRelyingParty(() => JwksDocument.Build(provider), clock, JwksCacheLifetime);
        var tokens = new List<(string Token, DateTimeOffset Expires)>();
        var failures = new List<string>();
        var kids = new List<string>();
        for (var minute = 0; minute <= 160; minute++)
        {
            var now = clock.GetUtcNow();
            var key = provider.Current;
            if (!kids.Contains(key.KeyId))
            {
                kids.Add(key.KeyId);
            }

            tokens.Add((Mint(key, now), now + TokenLifetime));
            foreach (var (token, expires) in tokens.Where(t => t.Expires + ClockSkew > now))
            {
                if (!relyingParty.Verifies(token))
                {
                    failures.Add($"minute {minute}: a token expiring {expires:HH:mm} did not verify");
                }
            }

            clock.Advance(TimeSpan.FromMinutes(1));
        }

        return (failures, kids, provider, clock);
    }

    internal static string Mint(SigningKey key, DateTimeOffset now)
    {
        static string B64(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));
        var header = B64(new JsonObject { ["alg"] = "ES256", ["typ"] = "at+jwt", ["kid"] = key.KeyId }.ToJsonString());
        var payload = B64(new JsonObject
        {
            ["iss"] = "https://broker.test", ["aud"] = "https://tool.test", ["sub"] = "spiffe://test/agent",
            ["iat"] = now.ToUnixTimeSeconds(), ["exp"] = (now + TokenLifetime).ToUnixTimeSeconds(),
        }.ToJsonString());
        var signature = Base64UrlEncoder.Encode(key.Sign(Encoding.ASCII.GetBytes(header + "." + payload)));
        return header + "." + payload + "." + signature;
    }

    /// <summary>A relying party that fetches the JWKS at most once per cache lifetime, and never early for an unknown kid.</summary>
    internal sealed class CachingRelyingParty(Func<string> fetch, TimeProvider clock, TimeSpan cacheLifetime)
    {
        private readonly JsonWebTokenHandler _handler = new();
        private JsonWebKeySet? _cached;
        private DateTimeOffset _fetchedAt;

        public bool Verifies(string token)
        {
            var now = clock.GetUtcNow();
            if (_cached is null || now - _fetchedAt >= cacheLifetime)
            {
                _cached = new JsonWebKeySet(fetch());
                _fetchedAt = now;
            }

            var result = _handler.ValidateTokenAsync(token, new TokenValidationParameters
            {
                ValidIssuer = "https://broker.test",
                ValidAudience = "https://tool.test",
                IssuerSigningKeys = _cached.GetSigningKeys(),
                TryAllIssuerSigningKeys = false,
                ValidateLifetime = false, // expiry is the loop's business (fake clock); this checks kid and signature
                ValidTypes = ["at+jwt"],
            }).GetAwaiter().GetResult();
            return result.IsValid;
        }
    }
}
