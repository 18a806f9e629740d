using NUnit.Framework;

namespace JitBroker.ToolGuard.Tests;

/// <summary>The token's resource globs mean what the broker's GlobPattern means (docs/policy.md "Globs"): checked against it.</summary>
[TestFixture]
public sealed class ToolGuardGlobTests
{
    [TestCase("tickets/*", "tickets/42", true)]
    [TestCase("tickets/*", "tickets/42/comments", false)]
    [TestCase("tickets/**", "tickets/42/comments", true)]
    [TestCase("*.delete", "a.b.delete", true)]
    [TestCase("*.delete", "a/b.delete", false)]
    [TestCase("*.delete", "x:a.delete", false)]
    [TestCase("tickets/4?", "tickets/42", true)]
    [TestCase("tickets/4?", "tickets/4/", false)]
    [TestCase("tickets/42", "tickets/42", true)]
    [TestCase("tickets/42", "Tickets/42", false)]
    [TestCase("a*b*c", "axxbyyc", true)]
    [TestCase("a*b*c", "axxbyy/c", false)]
    [TestCase("**", "", true)]
    [TestCase("*", "", true)]
    [TestCase("[x]", "[x]", true)]
    [TestCase("tickets/***", "tickets/1", false)]
    [TestCase("", "", false)]
    [TestCase(" tickets/*", " tickets/1", false)]
    public void Matches_like_the_broker(string pattern, string value, bool expected)
    {
        Assert.That(ToolGuardGlob.IsMatch(pattern, value), Is.EqualTo(expected));
        if (JitBroker.Core.GlobPattern.TryParse(pattern, out var glob, out _))
        {
            Assert.That(glob.IsMatch(value), Is.EqualTo(expected), "the broker's own matcher agrees");
        }
        else
        {
            Assert.That(expected, Is.False, "a pattern the broker refuses matches nothing here");
        }
    }

    [Test]
    public void A_long_hostile_pattern_is_matched_in_bounded_time()
    {
        var pattern = string.Concat(Enumerable.Repeat("*a", 200));
        var value = new string('a', 2000) + "b";
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.That(ToolGuardGlob.IsMatch(pattern, value), Is.False);
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)));
    }
}
