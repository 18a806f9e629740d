using System.Buffers.Text;
using System.Text;
using NUnit.Framework;

namespace JitBroker.Attestation.Tests;

/// <summary>The routing peek at a token's <c>iss</c> and <c>sub</c>: what each attestor asks, and every shape it refuses.</summary>
public sealed class UnverifiedPeekTests
{
    private static string Token(byte[] payload) => "eyJhbGciOiJFUzI1NiJ9." + Base64Url.EncodeToString(payload) + ".c2ln";

    private static string Token(string payloadJson) => Token(Encoding.UTF8.GetBytes(payloadJson));

    [Test]
    public void Reads_a_string_iss_and_whether_sub_is_a_spiffe_id()
    {
        var token = Token("""{"iss":"https://idp.example","sub":"spiffe://e.org/ä","aud":"x"}""");
        Assert.That(UnverifiedPeek.TryReadIssuer(token, 8192, out var issuer), Is.True);
        Assert.That(issuer, Is.EqualTo("https://idp.example"));
        Assert.That(UnverifiedPeek.SubjectHasSpiffeScheme(token, 8192), Is.True);

        token = Token("""{"iss":7,"sub":null}""");
        Assert.That(UnverifiedPeek.TryReadIssuer(token, 8192, out issuer), Is.True, "an object: read, with nothing usable in it");
        Assert.That(issuer, Is.Null);
        Assert.That(UnverifiedPeek.SubjectHasSpiffeScheme(token, 8192), Is.False);
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
            Token("""{"iss":"https://idp.example","sub":"spiffe://e.org/\ud800"}"""), // an escaped lone surrogate: refused before reading
            Token("""{"iss":"https://idp.example","sub":"spiffe://e.org/a"} {}"""), // a second value after the object
            Token(new string('[', 40) + new string(']', 40)), // deeper than the limit (and not an object)
            Token("""{"iss":"https://idp.example","sub":"spiffe://e.org/a","a":""" + new string('[', 40) + new string(']', 40) + "}"), // an object, too deep inside
        };
        foreach (var token in refused)
        {
            Assert.That(UnverifiedPeek.TryReadIssuer(token, 8192, out var issuer), Is.False, token);
            Assert.That(issuer, Is.Null);
            Assert.That(UnverifiedPeek.SubjectHasSpiffeScheme(token, 8192), Is.False, token);
        }
    }

    [Test]
    public void Reads_only_top_level_members_and_the_last_of_a_repeated_one()
    {
        var token = Token("""{"x":{"iss":"inner","sub":"spiffe://inner"},"sub":"spiffe://e.org/a","sub":"https://b","iss":"i","iss":1}""");
        Assert.That(UnverifiedPeek.TryReadIssuer(token, 8192, out var issuer), Is.True);
        Assert.That(issuer, Is.Null, "the last iss is not a string");
        Assert.That(UnverifiedPeek.SubjectHasSpiffeScheme(token, 8192), Is.False, "the last sub is not a SPIFFE ID");

        // An escaped member name is the same name.
        token = Token("""{"\u0073ub":"spiffe://e.org/a","\u0069ss":"x\"y"}""");
        Assert.That(UnverifiedPeek.TryReadIssuer(token, 8192, out issuer), Is.True);
        Assert.That(issuer, Is.EqualTo("x\"y"));
        Assert.That(UnverifiedPeek.SubjectHasSpiffeScheme(token, 8192), Is.True);
    }

    /// <summary>The JWT-SVID attestor's routing question, answered without making the subject a string unless it has escapes.</summary>
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
    public void Tells_a_spiffe_subject_by_its_unescaped_value(string payload, bool expected) =>
        Assert.That(UnverifiedPeek.SubjectHasSpiffeScheme(Token(payload), 8192), Is.EqualTo(expected));

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
        UnverifiedPeek.TryReadIssuer(Token($$"""{"sub":"spiffe://e.org/{{new string('x', 3000)}}","iss":"{{new string('x', 3000)}}"}"""), 8192, out _);
        var token = Token("""{"sub":"s"}""");
        Assert.That(UnverifiedPeek.TryReadIssuer(token, 8192, out var issuer), Is.True);
        Assert.That(issuer, Is.Null);
        Assert.That(UnverifiedPeek.SubjectHasSpiffeScheme(token, 8192), Is.False);
    }
}
