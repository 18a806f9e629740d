using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>
/// Tags are stored (Redis) and checked by every replica, so their bytes are a format: the expected tags were computed
/// independently (Python's hmac over the length-prefixed UTF-8 encoding), not by this code.
/// </summary>
public sealed class StateMacTests
{
    private static readonly StateMac Mac = new([.. Enumerable.Range(1, 32).Select(i => (byte)i)]);

    [TestCase("v1:c2d41accb4a597d3:DERSEnnU8MamsdUVoM6G5359KR-aNMMyoaJ2-ETOAv4", "test")]
    [TestCase("v1:c2d41accb4a597d3:1FdtJ0IhLvWRjwd3hFAVG1ZMiyRCfvOI3f7dj8KlHjg", "lease-handle", "lease_typ", "jwt", "lease_typ")]
    public void A_tag_is_the_hmac_of_the_length_prefixed_fields_in_base64url(string expected, string purpose, params string[] fields)
    {
        Assert.That(Mac.Sign(purpose, fields), Is.EqualTo(expected));
        Assert.That(Mac.Verify(expected, purpose, fields), Is.True);
    }

    [Test]
    public void Long_and_non_ascii_fields_sign_alike()
    {
        // Over 512 bytes: the encoding no longer fits the stack buffer.
        var tag = Mac.Sign("test", "é", new string('x', 600));

        Assert.That(tag, Is.EqualTo("v1:c2d41accb4a597d3:sOhB5ipYq4SS3RdcLdXZfSTtehPDvDC-wae4N7HYboY"));
        Assert.That(Mac.Verify(tag, "test", "é", new string('x', 600)), Is.True);
        Assert.That(Mac.Verify(tag, "test", "é", new string('x', 599)), Is.False);
    }

    [Test]
    public void Only_the_spelling_sign_writes_verifies()
    {
        const string Tag = "v1:c2d41accb4a597d3:DERSEnnU8MamsdUVoM6G5359KR-aNMMyoaJ2-ETOAv4";
        const string Id = "c2d41accb4a597d3", Mac64 = "DERSEnnU8MamsdUVoM6G5359KR-aNMMyoaJ2-ETOAv4";
        Assert.That(Mac.Verify(Tag, "test"), Is.True);

        // The same 32 bytes spelled otherwise — padded, or in the standard alphabet — were accepted before the tag was
        // read in place; a reader that accepts more spellings than the writer makes is a wider door. The last character
        // with its two unused bits set ('5' for '4') would be one more; Base64Url refuses it.
        string[] refused =
        [
            "", "v1", "v1:", $"v1:{Id}", $"v1:{Id}:", $"v1::{Mac64}", $"v2:{Id}:{Mac64}", $"V1:{Id}:{Mac64}", $" {Tag}", $"{Tag} ",
            $"v1:{Id.ToUpperInvariant()}:{Mac64}", $"v1:0000000000000000:{Mac64}", $"v1:{Id}:{Mac64}=", $"v1:{Id}:{Mac64}:",
            $"v1:{Id}:{Mac64}:{Mac64}", $"v1:{Id}:{Mac64[..^1]}", $"v1:{Id}:{Mac64[..^1]}A", $"v1:{Id}:{Mac64[..^1]}5", $"v1:{Id}:{Mac64.Replace('-', '+')}",
            $"v1:{Id}:{Mac64[..20]} {Mac64[20..]}", $"v1:{Id}:{Mac64[..20]} {Mac64[21..]}", $"v1:{Id}:{Mac64}AAAA",
        ];
        Assert.Multiple(() =>
        {
            foreach (var tag in refused)
            {
                Assert.That(Mac.Verify(tag, "test"), Is.False, tag);
            }
        });
    }

    [Test]
    public void Moving_a_boundary_between_fields_breaks_the_tag() =>
        Assert.That(Mac.Verify(Mac.Sign("p", "ab", "c"), "p", "a", "bc"), Is.False);
}
