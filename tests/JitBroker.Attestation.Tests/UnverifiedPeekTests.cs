using System.Buffers.Text;
using System.Text;
using NUnit.Framework;

namespace JitBroker.Attestation.Tests;

/// <summary>The routing peek at a token's <c>iss</c> and <c>sub</c>: what it reads, and every shape it refuses.</summary>
public sealed class UnverifiedPeekTests
{
    private static string Token(byte[] payload) => "eyJhbGciOiJFUzI1NiJ9." + Base64Url.EncodeToString(payload) + ".c2ln";

    private static string Token(string payloadJson) => Token(Encoding.UTF8.GetBytes(payloadJson));

    [Test]
    public void Reads_string_iss_and_sub_and_nothing_else()
    {
        Assert.That(UnverifiedPeek.TryReadIssuerAndSubject(Token("""{"iss":"https://idp.example","sub":"spiffe://e.org/ä","aud":"x"}"""), 8192,
            out var issuer, out var subject), Is.True);
        Assert.That((issuer, subject), Is.EqualTo(("https://idp.example", "spiffe://e.org/ä")));

        Assert.That(UnverifiedPeek.TryReadIssuerAndSubject(Token("""{"iss":7,"sub":null}"""), 8192, out issuer, out subject), Is.True);
        Assert.That((issuer, subject), Is.EqualTo(((string?)null, (string?)null)));
    }

    [Test]
    public void Refuses_what_is_not_a_compact_jws_with_a_json_object_payload()
    {
        var refused = new[]
        {
            null!,
            Token("[1,2]"),
            Token("{\"iss\":"),
            Token([0x7B, 0x22, 0xC0, 0xAF, 0x22, 0x3A, 0x31, 0x7D]), // overlong UTF-8
            "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In1=.c2ln", // padded
            "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In1.c2ln", // non-zero pad bits
            "eyJhbGciOiJFUzI1NiJ9..c2ln",
            "a.b.c.d.e",
            Token(new string(' ', 10_000)),
            Token("""{"iss":"https://idp.example","sub":"\ud800"}"""), // an escaped lone surrogate: refused before reading
            Token("""{"sub":"s"} {}"""), // a second value after the object
            Token(new string('[', 40) + new string(']', 40)), // deeper than the limit (and not an object)
            Token("""{"a":""" + new string('[', 40) + new string(']', 40) + "}"), // an object, too deep inside
        };
        foreach (var token in refused)
        {
            Assert.That(UnverifiedPeek.TryReadIssuerAndSubject(token, 8192, out var issuer, out var subject), Is.False, token);
            Assert.That((issuer, subject), Is.EqualTo(((string?)null, (string?)null)));
        }
    }

    [Test]
    public void Reads_only_top_level_members_and_the_last_of_a_repeated_one()
    {
        Assert.That(UnverifiedPeek.TryReadIssuerAndSubject(Token("""{"x":{"iss":"inner","sub":"inner"},"sub":"a","sub":"b","iss":"i","iss":1}"""), 8192,
            out var issuer, out var subject), Is.True);
        Assert.That((issuer, subject), Is.EqualTo(((string?)null, "b")));

        // An escaped member name is the same name.
        Assert.That(UnverifiedPeek.TryReadIssuerAndSubject(Token("""{"\u0073ub":"spiffe://e.org/a","iss":"x\"y"}"""), 8192, out issuer, out subject), Is.True);
        Assert.That((issuer, subject), Is.EqualTo(("x\"y", "spiffe://e.org/a")));
    }

    /// <summary>The JWT-SVID attestor's routing question, answered without making the subject a string: the same answer as reading it.</summary>
    [TestCase("""{"sub":"spiffe://e.org/a"}""", true)]
    [TestCase("""{"sub":"SPIFFE://e.org/a"}""", true)]
    [TestCase("""{"sub":"Spiffe:"}""", true)]
    [TestCase("""{"sub":"\u0073piffe://e.org/a"}""", true)]
    [TestCase("""{"sub":"spiffe\u003a//e.org/a"}""", true)]
    [TestCase("""{"sub":"spiffe"}""", false)]
    [TestCase("""{"sub":"spiffex://e.org/a"}""", false)]
    [TestCase("""{"sub":" spiffe://e.org/a"}""", false)]
    [TestCase("""{"sub":"https://e.org/a"}""", false)]
    [TestCase("""{"sub":7}""", false)]
    [TestCase("""{"x":{"sub":"spiffe://e.org/a"}}""", false)]
    [TestCase("""{"sub":"spiffe://e.org/a","sub":"https://e.org"}""", false)]
    [TestCase("""{"sub":"https://e.org","sub":"spiffe://e.org/a"}""", true)]
    [TestCase("""{"iss":"spiffe://e.org"}""", false)]
    [TestCase("""{"sub":"spiffe://e.org/a"} {}""", false)]
    public void Tells_a_spiffe_subject_as_reading_it_would(string payload, bool expected)
    {
        Assert.That(UnverifiedPeek.SubjectHasSpiffeScheme(Token(payload), 8192), Is.EqualTo(expected));
        var read = UnverifiedPeek.TryReadIssuerAndSubject(Token(payload), 8192, out _, out var subject)
            && subject?.StartsWith("spiffe:", StringComparison.OrdinalIgnoreCase) == true;
        Assert.That(read, Is.EqualTo(expected), "the answer reading the string gives");
    }

    [Test]
    public void Reads_the_issuer_alone()
    {
        Assert.That(UnverifiedPeek.TryReadIssuer(Token("""{"sub":"s","iss":"https://idp.example","iss":"https://other"}"""), 8192, out var issuer), Is.True);
        Assert.That(issuer, Is.EqualTo("https://other"));
        Assert.That(UnverifiedPeek.TryReadIssuer(Token("[1]"), 8192, out issuer), Is.False);
        Assert.That(issuer, Is.Null);
    }

    [Test]
    public void Reads_the_same_after_many_calls_on_one_thread()
    {
        // Pooled buffers come back dirty from other callers: a short payload after a long one still reads alone.
        UnverifiedPeek.TryReadIssuerAndSubject(Token($$"""{"iss":"{{new string('x', 3000)}}"}"""), 8192, out _, out _);
        Assert.That(UnverifiedPeek.TryReadIssuerAndSubject(Token("""{"sub":"s"}"""), 8192, out var issuer, out var subject), Is.True);
        Assert.That((issuer, subject), Is.EqualTo(((string?)null, "s")));
    }
}
