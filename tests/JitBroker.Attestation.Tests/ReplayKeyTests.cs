using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using JitBroker.Core;
using NUnit.Framework;
using static JitBroker.Attestation.Tests.SvidFixture;

namespace JitBroker.Attestation.Tests;

/// <summary>WorkloadIdentity.ReplayKey: (iss, jti) when there is a jti, else a hash of the signed content.</summary>
[TestFixture]
public sealed class ReplayKeyTests
{
    // Order of the P-256 group: (r, s) and (r, n - s) are both valid ECDSA signatures of the same message.
    private static readonly BigInteger P256Order = BigInteger.Parse("0FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", System.Globalization.NumberStyles.HexNumber);

    private SvidFixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new SvidFixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    [Test]
    public async Task Token_with_jti_is_keyed_by_issuer_and_jti()
    {
        var identity = await _f.Attestor().AttestAsync(new AttestationEvidence(_f.Token(claims: c => c["jti"] = "abc")));
        Assert.That(identity.ReplayKey, Is.EqualTo("jti:https://spire.prod.example.org|abc"));
    }

    [Test]
    public async Task Svid_without_iss_is_keyed_by_its_trust_domain_as_issuer()
    {
        var identity = await _f.Attestor().AttestAsync(new AttestationEvidence(_f.Token(claims: c => { c.Remove("iss"); c["jti"] = "abc"; })));
        Assert.That(identity.ReplayKey, Is.EqualTo("jti:spiffe://prod.example.org|abc"));
    }

    [Test]
    public async Task Token_without_jti_is_keyed_by_the_hash_of_header_and_payload()
    {
        var token = _f.Token(claims: c => c.Remove("jti"));

        var identity = await _f.Attestor().AttestAsync(new AttestationEvidence(token));

        var signed = token[..token.LastIndexOf('.')];
        Assert.That(identity.ReplayKey, Is.EqualTo("sig:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(signed)))));
    }

    [Test]
    public async Task Malleated_ecdsa_signature_is_a_new_token_string_but_the_same_replay_key()
    {
        var attestor = _f.Attestor();
        var token = _f.Token(claims: c => c.Remove("jti"));
        var twin = Malleate(token);
        Assert.That(twin, Is.Not.EqualTo(token));

        var original = await attestor.AttestAsync(new AttestationEvidence(token));
        var replayed = await attestor.AttestAsync(new AttestationEvidence(twin));

        Assert.That(replayed.EvidenceFingerprint, Is.Not.EqualTo(original.EvidenceFingerprint), "a different string verifies...");
        Assert.That(replayed.ReplayKey, Is.EqualTo(original.ReplayKey), "...but the replay cache sees the same token");
    }

    /// <summary>Rewrites an ES256 signature (r, s) to (r, n - s): valid, without the private key.</summary>
    private static string Malleate(string token)
    {
        var dot = token.LastIndexOf('.');
        var signature = System.Buffers.Text.Base64Url.DecodeFromChars(token.AsSpan(dot + 1));
        var s = new BigInteger(signature.AsSpan(32), isUnsigned: true, isBigEndian: true);
        var flipped = (P256Order - s).ToByteArray(isUnsigned: true, isBigEndian: true);
        var twin = new byte[64];
        signature.AsSpan(0, 32).CopyTo(twin);
        flipped.CopyTo(twin.AsSpan(64 - flipped.Length));
        return token[..(dot + 1)] + TestKey.B64(twin);
    }
}
