using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using NUnit.Framework;

namespace JitBroker.Issuance.Tests;

public sealed class SigningKeyAndJwksTests
{
    [Test]
    public void Kid_is_the_rfc7638_thumbprint_of_the_published_coordinates()
    {
        using var keys = new StaticSigningKeyProvider(SigningKey.Generate());
        var jwk = JsonNode.Parse(JwksDocument.Build(keys))!["keys"]![0]!;

        var x = (string)jwk["x"]!;
        var y = (string)jwk["y"]!;
        Assert.Multiple(() =>
        {
            Assert.That((string?)jwk["kid"], Is.EqualTo(Thumbprints.Rfc7638(x, y)));
            Assert.That(keys.Current.KeyId, Is.EqualTo(Thumbprints.Rfc7638(x, y)));
            Assert.That(Base64Url.DecodeFromChars(x), Has.Length.EqualTo(32));
            Assert.That(Base64Url.DecodeFromChars(y), Has.Length.EqualTo(32));
        });
    }

    [Test]
    public void The_independent_thumbprint_helper_reproduces_the_rfc7638_example()
    {
        // RFC 7638 §3.1's own example (an RSA key) and its published thumbprint: proves the helper's
        // canonical form before it is used to judge our EC kids.
        const string n =
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

        Assert.That(Thumbprints.OfRequiredMembers(("kty", "RSA"), ("n", n), ("e", "AQAB")),
            Is.EqualTo("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
    }

    [Test]
    public void Jwks_holds_public_members_only()
    {
        using var keys = new StaticSigningKeyProvider(SigningKey.Generate(), SigningKey.Generate());
        var document = JsonNode.Parse(JwksDocument.Build(keys))!.AsObject();

        var jwks = document["keys"]!.AsArray();
        Assert.Multiple(() =>
        {
            Assert.That(document.Select(p => p.Key), Is.EqualTo(new[] { "keys" }));
            Assert.That(jwks, Has.Count.EqualTo(2));
            foreach (var jwk in jwks)
            {
                Assert.That(jwk!.AsObject().Select(p => p.Key), Is.EquivalentTo(new[] { "kty", "crv", "x", "y", "kid", "use", "alg" }));
                Assert.That((string?)jwk["kty"], Is.EqualTo("EC"));
                Assert.That((string?)jwk["crv"], Is.EqualTo("P-256"));
                Assert.That((string?)jwk["use"], Is.EqualTo("sig"));
                Assert.That((string?)jwk["alg"], Is.EqualTo("ES256"));
            }
        });
    }

    [Test]
    public void Public_jwk_coordinates_are_the_key_coordinates()
    {
        using var source = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var key = SigningKey.FromPrivateKeyPem(source.ExportPkcs8PrivateKeyPem());
        var q = source.ExportParameters(false).Q;

        var jwk = key.ToPublicJwk();

        Assert.Multiple(() =>
        {
            Assert.That(Base64Url.DecodeFromChars((string)jwk["x"]!), Is.EqualTo(q.X));
            Assert.That(Base64Url.DecodeFromChars((string)jwk["y"]!), Is.EqualTo(q.Y));
            Assert.That(key.Algorithm, Is.EqualTo("ES256"));
            Assert.That(key.ToString(), Does.Contain(key.KeyId));
        });
    }

    [Test]
    public void Signatures_are_64_byte_p1363_and_verify_only_for_the_signed_data()
    {
        using var key = SigningKey.Generate();
        var data = "header.payload"u8.ToArray();

        var signature = key.Sign(data);

        Assert.Multiple(() =>
        {
            Assert.That(signature, Has.Length.EqualTo(64));
            Assert.That(key.Verify(data, signature), Is.True);
            Assert.That(key.Verify("header.payloaD"u8, signature), Is.False);
            Assert.That(key.Verify(data, signature.AsSpan(0, 63)), Is.False);
            Assert.That(key.Verify(data, new byte[72]), Is.False);
        });
    }

    [TestCase(SigningAlgorithms.Es256)]
    [TestCase(SigningAlgorithms.Ps256)]
    public void Signing_into_a_span_writes_a_verifying_signature_and_refuses_a_short_destination(string algorithm)
    {
        using var key = SigningKey.Generate(algorithm);
        var data = "header.payload"u8.ToArray();
        var destination = new byte[key.SignatureSize + 3];

        var written = key.Sign(data, destination);

        Assert.Multiple(() =>
        {
            Assert.That(written, Is.EqualTo(key.SignatureSize));
            Assert.That(key.Verify(data, destination.AsSpan(0, written)), Is.True);
            Assert.That(() => key.Sign(data, new byte[key.SignatureSize - 1]), Throws.InstanceOf<ArgumentOutOfRangeException>());
        });
    }

    [TestCase(SigningAlgorithms.Es256)]
    [TestCase(SigningAlgorithms.Rs256)]
    public void Signing_into_a_span_allocates_no_buffer_per_signature(string algorithm)
    {
        // Every task JWT is signed here. ECDsa's span SignData allocated ~200 bytes per signature on .NET 10; TrySignData none.
        using var key = SigningKey.Generate(algorithm);
        var data = new byte[420];
        var destination = new byte[key.SignatureSize];
        for (var i = 0; i < 50; i++)
        {
            key.Sign(data, destination); // warm: first calls may allocate once (JIT, lazily built state)
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            key.Sign(data, destination);
        }

        Assert.That((GC.GetAllocatedBytesForCurrentThread() - before) / 100.0, Is.LessThan(32), "bytes allocated per signature");
    }

    [Test]
    public void A_public_only_key_verifies_but_cannot_sign()
    {
        using var source = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var key = SigningKey.FromPublicKeyPem(source.ExportSubjectPublicKeyInfoPem());
        var data = "data"u8.ToArray();

        Assert.Multiple(() =>
        {
            Assert.That(key.CanSign, Is.False);
            Assert.That(() => key.Sign(data), Throws.InvalidOperationException);
            Assert.That(key.Verify(data, source.SignData(data, HashAlgorithmName.SHA256)), Is.True);
            Assert.That(() => new StaticSigningKeyProvider(key), Throws.ArgumentException);
        });
    }

    [Test]
    public void A_disposed_key_refuses_to_sign()
    {
        var key = SigningKey.Generate();
        key.Dispose();

        Assert.That(() => key.Sign("x"u8), Throws.InstanceOf<ObjectDisposedException>());
    }
}
