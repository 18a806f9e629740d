using JitBroker.Audit;
using NUnit.Framework;

namespace JitBroker.Audit.Tests;

/// <summary>
/// The scrubber skips its regex when <see cref="SecretScrubber.MayHoldCredential"/> says no. That shortcut must never
/// let through a string the regex would redact: every string the regex matches must be flagged.
/// </summary>
public sealed class SecretScrubberPrefilterTests
{
    private static readonly string[] Credentials =
    [
        "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "hvs.CAESIJ0123456789abcdefghijklmnopqrstuv",
        "hvb.AAAAAQJ0123456789abcdefghijk",
        "s.0123456789abcdefABCDEFGH",
        "b.0123456789abcdefABCDEFGH",
        "r.0123456789abcdefABCDEFGH",
        "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n-----END PRIVATE KEY-----",
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE",
        "Bearer abcdefghijklmnopqrstuvwxyz012345",
        "bearer\tabcdefghijklmnop",
    ];

    [Test]
    public void Every_credential_shape_is_flagged_alone_and_inside_text([ValueSource(nameof(Credentials))] string credential)
    {
        foreach (var text in new[] { credential, "purpose: " + credential + " (pasted)", "-" + credential, "\"" + credential + "\"" })
        {
            Assert.That(SecretScrubber.CredentialShaped().IsMatch(text), Is.True, "the sample must be one the regex redacts: " + text);
            Assert.That(SecretScrubber.MayHoldCredential(text), Is.True, text);
        }
    }

    [Test]
    public void A_vault_token_glued_to_a_word_is_redacted()
    {
        const string token = "hvs.CAESIJ0123456789abcdefghijklmnopqrstuv";
        var scrubbed = SecretScrubber.Scrub("pasted:x" + token + " done");
        Assert.That(scrubbed, Does.Not.Contain(token));
        Assert.That(scrubbed, Does.Contain("[redacted sha256:"));
    }

    [Test]
    public void Ordinary_members_skip_the_regex()
    {
        foreach (var text in new[] { "spiffe://dev.jitbroker.local/agents/support-bot", "tickets.read", "crm:accounts/42", "summarise the customer's last order" })
        {
            Assert.That(SecretScrubber.MayHoldCredential(text), Is.False, text);
            Assert.That(SecretScrubber.Scrub(text), Is.EqualTo(text));
        }
    }

    /// <summary>
    /// Random strings over an alphabet rich in the characters the regex cares about (word boundaries, dots, the letters
    /// of every marker, non-ASCII letters): whenever the regex matches, the prefilter must have said yes.
    /// </summary>
    [Test]
    public void Prefilter_never_says_no_where_the_regex_matches()
    {
        const string alphabet = "sbrhvSBReyJEBGINPRVATKYarB.-_ \t\n0123456789xyzé\u00dfЖ/:";
        var random = new Random(20261204);
        var matched = 0;
        for (var i = 0; i < 200_000; i++)
        {
            var chars = new char[random.Next(8, 60)];
            for (var j = 0; j < chars.Length; j++)
            {
                chars[j] = alphabet[random.Next(alphabet.Length)];
            }

            // Splice in a marker now and then so the regex has something to find.
            var text = new string(chars);
            if (i % 3 == 0)
            {
                var c = Credentials[random.Next(Credentials.Length)];
                var at = random.Next(text.Length);
                text = text[..at] + c[..random.Next(1, c.Length + 1)] + text[at..];
            }

            if (SecretScrubber.CredentialShaped().IsMatch(text))
            {
                matched++;
                Assert.That(SecretScrubber.MayHoldCredential(text), Is.True, "regex matches but the prefilter said no: " + text);
            }
        }

        Assert.That(matched, Is.GreaterThan(1000), "the generator must exercise the regex");
    }
}
