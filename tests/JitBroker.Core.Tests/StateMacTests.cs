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
    public void Moving_a_boundary_between_fields_breaks_the_tag() =>
        Assert.That(Mac.Verify(Mac.Sign("p", "ab", "c"), "p", "a", "bc"), Is.False);
}
