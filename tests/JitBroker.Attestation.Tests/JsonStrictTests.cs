using System.Text;
using System.Text.Json;
using NUnit.Framework;

namespace JitBroker.Attestation.Tests;

/// <summary>
/// Duplicate member names are refused however they are spelled (RFC 7515 §4 / RFC 7519 §4): the check compares raw
/// names pair by pair for small objects, decoded names for objects with escapes or many members; every path must agree.
/// </summary>
public sealed class JsonStrictTests
{
    [TestCase("{}", true)]
    [TestCase("{\"a\":1}", true)]
    [TestCase("{\"a\":1,\"b\":2,\"ab\":3,\"ba\":4,\"\":5}", true)]
    [TestCase("{\"a\":1,\"b\":2,\"a\":3}", false)]
    [TestCase("{\"\":1,\"x\":2,\"\":3}", false)]
    [TestCase("{\"alg\":\"ES256\",\"kid\":\"k\",\"alg\":\"none\"}", false)]
    [TestCase("{\"sub\":1,\"s\\u0075b\":2}", false)] // one name, spelled escaped once
    [TestCase("{\"\\u0073ub\":1,\"su\\u0062\":2}", false)] // one name, spelled escaped twice, differently
    [TestCase("{\"sub\":1,\"S\\u0075b\":2}", true)] // names differ in case: two names
    [TestCase("{\"a\\\"b\":1,\"a\\u0022b\":2}", false)] // an escaped quote, two spellings
    [TestCase("{\"é\":1,\"\\u00e9\":2}", false)] // a non-ASCII name, raw and escaped
    [TestCase("{\"é\":1,\"e\\u0301\":2}", true)] // canonically equivalent, not the same code points: two names
    public void Member_names_are_unique_exactly_when_their_decoded_names_are(string json, bool unique)
    {
        using var document = JsonDocument.Parse(json);
        Assert.That(JsonStrict.HasUniqueMembers(document.RootElement), Is.EqualTo(unique));
    }

    [TestCase(JsonStrict.MaxPairwiseMembers - 1)]
    [TestCase(JsonStrict.MaxPairwiseMembers)]
    [TestCase(JsonStrict.MaxPairwiseMembers + 1)]
    [TestCase(500)]
    public void A_duplicate_is_found_wherever_it_stands_in_objects_of_any_size(int members)
    {
        using (var document = JsonDocument.Parse(ObjectOf(members, duplicateOf: null)))
        {
            Assert.That(JsonStrict.HasUniqueMembers(document.RootElement), Is.True, $"{members} distinct names");
        }

        foreach (var (first, second) in new[] { (0, 1), (0, members - 1), (members / 2, members - 1), (members - 2, members - 1) })
        {
            using var document = JsonDocument.Parse(ObjectOf(members, duplicateOf: (first, second)));
            Assert.That(JsonStrict.HasUniqueMembers(document.RootElement), Is.False, $"{members} names, #{second} repeats #{first}");
        }
    }

    // Members m0, m1, …; with duplicateOf (i, j), member j is named as member i.
    private static string ObjectOf(int members, (int First, int Second)? duplicateOf)
    {
        var json = new StringBuilder("{");
        for (var i = 0; i < members; i++)
        {
            var name = duplicateOf is { } d && i == d.Second ? d.First : i;
            json.Append(i == 0 ? "" : ",").Append("\"m").Append(name).Append("\":").Append(i);
        }

        return json.Append('}').ToString();
    }
}
