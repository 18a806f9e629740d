using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using JitBroker.Issuance;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace JitBroker.Issuance.Tests;

/// <summary>
/// Rotation without coordination: every epoch's key is derived from a root secret, so replicas and restarts holding the
/// same secret publish the same JWKS and verify each other's tokens; the derivation is checked against an independent
/// implementation (python3-cryptography over OpenSSL).
/// </summary>
public sealed class DerivedKeyRotationTests
{
    private static readonly KeyRotationSchedule Schedule = new(TimeSpan.FromMinutes(62), TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(20));
    private static readonly DateTimeOffset Origin = DateTimeOffset.UnixEpoch;
    private static readonly DateTimeOffset Start = new(2026, 12, 3, 0, 0, 0, TimeSpan.Zero);

    [Test]
    public void Two_replicas_and_a_restart_from_one_root_secret_publish_the_same_jwks_and_verify_each_others_tokens()
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        var clock = new FakeTimeProvider(Start);
        using var replicaA = new ScheduledRotationSigningKeyProvider(secret, Origin, Schedule, clock);
        using var replicaB = new ScheduledRotationSigningKeyProvider(secret, Origin, Schedule, clock);
        var rotations = new HashSet<string>(StringComparer.Ordinal);
        for (var minute = 0; minute <= 200; minute += 7)
        {
            // Built from nothing but the secret at this instant: a restarted broker (or a replica started late).
            using var restarted = new ScheduledRotationSigningKeyProvider(secret, Origin, Schedule, clock);
            var jwks = JwksDocument.Build(replicaA);

            Assert.That(JwksDocument.Build(replicaB), Is.EqualTo(jwks), $"minute {minute}: replicas publish the same JWKS");
            Assert.That(JwksDocument.Build(restarted), Is.EqualTo(jwks), $"minute {minute}: a restart publishes the same JWKS");
            var fromA = KeyRotationTests.Mint(replicaA.Current, clock.GetUtcNow());
            var fromRestarted = KeyRotationTests.Mint(restarted.Current, clock.GetUtcNow());
            Assert.That(Verifies(replicaB, fromA) && Verifies(restarted, fromA) && Verifies(replicaA, fromRestarted), Is.True,
                $"minute {minute}: a token from one instance verifies against another's JWKS");
            rotations.Add(replicaA.Current.KeyId);
            clock.Advance(TimeSpan.FromMinutes(7));
        }

        Assert.That(rotations, Has.Count.GreaterThanOrEqualTo(3), "the loop crossed at least two rotations");
    }

    [Test]
    public void A_token_signed_just_before_a_rotation_verifies_until_it_expires()
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        var clock = new FakeTimeProvider(Start);
        using var provider = new ScheduledRotationSigningKeyProvider(secret, Origin, Schedule, clock);
        var boundary = NextBoundary(Start);
        clock.SetUtcNow(boundary - TimeSpan.FromSeconds(1));
        var token = KeyRotationTests.Mint(provider.Current, clock.GetUtcNow());
        var signedBy = provider.Current.KeyId;

        clock.SetUtcNow(boundary);
        Assert.That(provider.Current.KeyId, Is.Not.EqualTo(signedBy), "the key rotated");
        clock.SetUtcNow(boundary + TimeSpan.FromMinutes(15)); // the token's lifetime, less the second before the boundary
        Assert.That(Verifies(provider, token), Is.True, "still verifiable at its expiry");
        using var restarted = new ScheduledRotationSigningKeyProvider(secret, Origin, Schedule, clock);
        Assert.That(Verifies(restarted, token), Is.True, "also after a restart");
        clock.SetUtcNow(boundary + Schedule.RetainAfterRetirement);
        Assert.That(provider.VerificationKeys.Select(k => k.KeyId), Does.Not.Contain(signedBy), "dropped after its retention");
    }

    [Test]
    public void A_different_root_secret_yields_different_keys()
    {
        var clock = new FakeTimeProvider(Start);
        using var one = new ScheduledRotationSigningKeyProvider(RandomNumberGenerator.GetBytes(32), Origin, Schedule, clock);
        using var other = new ScheduledRotationSigningKeyProvider(RandomNumberGenerator.GetBytes(32), Origin, Schedule, clock);

        Assert.That(other.VerificationKeys.Select(k => k.KeyId).Intersect(one.VerificationKeys.Select(k => k.KeyId)), Is.Empty);
        Assert.That(Verifies(other, KeyRotationTests.Mint(one.Current, clock.GetUtcNow())), Is.False);
    }

    [Test]
    public void Consecutive_epochs_have_different_keys_and_a_short_root_secret_is_refused()
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        using var a = DerivedSigningKey.ForEpoch(secret, 41);
        using var b = DerivedSigningKey.ForEpoch(secret, 42);
        using var again = DerivedSigningKey.ForEpoch(secret, 42);

        Assert.That(a.KeyId, Is.Not.EqualTo(b.KeyId));
        Assert.That(again.KeyId, Is.EqualTo(b.KeyId));
        Assert.Throws<ArgumentException>(() => DerivedSigningKey.ForEpoch(new byte[31], 1));
    }

    [Test]
    public void A_key_file_used_before_rotation_stays_published_after_the_derived_keys_but_never_signs()
    {
        var clock = new FakeTimeProvider(Start);
        using var before = SigningKey.Generate();
        var token = KeyRotationTests.Mint(before, clock.GetUtcNow());
#pragma warning disable CA2000 // owned and disposed by the provider
        using var provider = new ScheduledRotationSigningKeyProvider(RandomNumberGenerator.GetBytes(32), Origin, Schedule, clock,
            [SigningKey.FromPublicKeyPem(PublicPem(before))]);
#pragma warning restore CA2000

        Assert.That(provider.VerificationKeys[^1].KeyId, Is.EqualTo(before.KeyId));
        Assert.That(provider.Current.KeyId, Is.Not.EqualTo(before.KeyId));
        Assert.That(Verifies(provider, token), Is.True);
    }

    private static string PublicPem(SigningKey key)
    {
        var jwk = key.ToPublicJwk();
        using var ec = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = Base64Url(jwk["x"]!.ToString()), Y = Base64Url(jwk["y"]!.ToString()) },
        });
        return ec.ExportSubjectPublicKeyInfoPem();
    }

    private static byte[] Base64Url(string s) => System.Buffers.Text.Base64Url.DecodeFromChars(s);

    [TestCase(0L)]
    [TestCase(473_823L)]
    [TestCase(-3L)]
    public void The_derivation_matches_an_independent_hkdf_and_openssl_computes_the_same_public_key_and_accepts_the_signature(long epoch)
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        using var key = DerivedSigningKey.ForEpoch(secret, epoch);
        var data = Encoding.ASCII.GetBytes("header.payload");
        var signature = key.Sign(data);
        var jwk = key.ToPublicJwk();

        // python3-cryptography (OpenSSL underneath) derives d by the documented recipe, computes the point and verifies.
        var script = """
            import sys, base64
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.kdf.hkdf import HKDF
            from cryptography.hazmat.primitives.asymmetric import ec, utils
            secret, epoch, data, sig = bytes.fromhex(sys.argv[1]), int(sys.argv[2]), bytes.fromhex(sys.argv[3]), bytes.fromhex(sys.argv[4])
            n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
            info = b"jitbroker token signing key v1" + epoch.to_bytes(8, "big", signed=True)
            okm = HKDF(algorithm=hashes.SHA256(), length=48, salt=None, info=info).derive(secret)
            d = int.from_bytes(okm, "big") % (n - 1) + 1
            pub = ec.derive_private_key(d, ec.SECP256R1()).public_key()
            pub.verify(utils.encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")), data, ec.ECDSA(hashes.SHA256()))
            b64 = lambda i: base64.urlsafe_b64encode(i.to_bytes(32, "big")).rstrip(b"=").decode()
            print(b64(pub.public_numbers().x) + "," + b64(pub.public_numbers().y))
            """;
        var output = Python(script, Convert.ToHexString(secret), epoch.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Convert.ToHexString(data), Convert.ToHexString(signature));

        Assert.That(output, Is.EqualTo($"{jwk["x"]},{jwk["y"]}"));
    }

    private static bool Verifies(ISigningKeyProvider jwksSource, string token) =>
        new KeyRotationTests.CachingRelyingParty(() => JwksDocument.Build(jwksSource), TimeProvider.System, TimeSpan.Zero).Verifies(token);

    private static DateTimeOffset NextBoundary(DateTimeOffset t) =>
        Origin + TimeSpan.FromTicks(((t - Origin).Ticks / Schedule.Interval.Ticks + 1) * Schedule.Interval.Ticks);

    private static string Python(string script, params string[] args)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0 && error.Contains("No module named 'cryptography'", StringComparison.Ordinal))
        {
            Assert.Ignore("python3-cryptography is not installed: the independent check of the derivation cannot run.");
        }

        Assert.That(process.ExitCode, Is.Zero, error);
        return output.Trim();
    }
}
