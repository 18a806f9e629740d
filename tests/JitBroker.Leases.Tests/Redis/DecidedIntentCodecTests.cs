using JitBroker.Core;
using JitBroker.Leases.Redis;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Redis;

/// <summary>The one compact field a lease keeps its decided intent in (the round trip through Redis is in the conformance suite).</summary>
public sealed class DecidedIntentCodecTests
{
    [Test]
    public void A_typical_intent_encodes_to_length_prefixed_text_in_key_order()
    {
        var intent = new DecidedIntent
        {
            Purpose = "refund order 42",
            Context = new Dictionary<string, string> { ["ticket"] = "T-42", ["risk"] = "low" },
        };

        Assert.That(DecidedIntentCodec.Encode(intent), Is.EqualTo("15:refund order 424:risk3:low6:ticket4:T-42"));
    }

    [Test]
    public void Context_without_a_purpose_keeps_an_empty_purpose_in_front()
    {
        var decoded = DecidedIntentCodec.Decode(DecidedIntentCodec.Encode(new DecidedIntent { Context = new Dictionary<string, string> { ["risk"] = "1" } }));

        Assert.That((decoded.Purpose, decoded.Context["risk"]), Is.EqualTo(("", "1")));
    }

    [TestCase("5:abc")]
    [TestCase("x:abc")]
    [TestCase("3:abc4:risk")]
    [TestCase(":abc")]
    [TestCase("-1:abc")]
    [TestCase("99999999999:abc")]
    public void A_field_that_does_not_parse_reads_as_no_intent_rather_than_failing_the_lease(string stored) =>
        Assert.That(DecidedIntentCodec.Decode(stored), Is.SameAs(DecidedIntent.None));
}
