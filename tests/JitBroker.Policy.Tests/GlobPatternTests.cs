namespace JitBroker.Policy.Tests;

public sealed class GlobPatternTests
{
    [TestCase("tickets.read", "tickets.read", true)]
    [TestCase("tickets.read", "tickets.reads", false)]
    [TestCase("tickets.read", "Tickets.read", false)]
    [TestCase("tickets.*", "tickets.read", true)]
    [TestCase("tickets.*", "tickets.", true)]
    [TestCase("tickets.*", "tickets", false)]
    [TestCase("tickets/*", "tickets/42", true)]
    [TestCase("tickets/*", "tickets/42/comments", false)]
    [TestCase("tickets/*", "tickets/", true)]
    [TestCase("tickets/**", "tickets/42/comments", true)]
    [TestCase("tickets/**", "tickets/", true)]
    [TestCase("tickets/**", "ticketsx/1", false)]
    [TestCase("*.delete", "tickets.delete", true)]
    [TestCase("*.delete", "a.b.delete", true)]
    [TestCase("*.delete", "a/b.delete", false)]
    [TestCase("*.delete", "tickets.deleted", false)]
    [TestCase("**.delete", "a/b.delete", true)]
    [TestCase("*", "anything-without-slash", true)]
    [TestCase("*", "", true)]
    [TestCase("*", "a/b", false)]
    [TestCase("**", "a/b/c", true)]
    [TestCase("t?ckets", "tickets", true)]
    [TestCase("t?ckets", "tckets", false)]
    [TestCase("t?ckets", "t/ckets", false)]
    [TestCase("t?ckets", "tiickets", false)]
    [TestCase("spiffe://td/agents/support-*", "spiffe://td/agents/support-bot", true)]
    [TestCase("spiffe://td/agents/support-*", "spiffe://td/agents/support-bot/child", false)]
    [TestCase("spiffe://td/agents/support-*", "spiffe://td/agents/x/support-bot", false)]
    [TestCase("spiffe://td/*/bot", "spiffe://td/agents/bot", true)]
    [TestCase("spiffe://td/*/bot", "spiffe://td/a/b/bot", false)]
    [TestCase("spiffe://td/**/bot", "spiffe://td/a/b/bot", true)]
    [TestCase("a*b*c", "axxbyyc", true)]
    [TestCase("a*b*c", "axx/byyc", false)]
    [TestCase("a**b*c", "ax/x/byyc", true)]
    [TestCase("a**b*c", "axxb/yyc", false)]
    public void Matches_whole_value_with_documented_wildcards(string pattern, string value, bool expected) =>
        Assert.That(GlobPattern.Parse(pattern).IsMatch(value), Is.EqualTo(expected));

    [TestCase("tickets.(read|write)", "tickets.read")]
    [TestCase("tickets.(read|write)", "tickets.(read|write)", true)]
    [TestCase("a.b", "axb")]
    [TestCase("[abc]", "a")]
    [TestCase("[abc]", "[abc]", true)]
    [TestCase("^x$", "x")]
    [TestCase(@"a\*b", @"a\xb", true)]
    [TestCase(@"a\*b", "a*b")]
    [TestCase("x{1,3}", "xxx")]
    [TestCase("a+*", "aaa")]
    [TestCase("a+*", "a+zz", true)]
    public void Regex_syntax_is_literal_text(string pattern, string value, bool expected = false) =>
        Assert.That(GlobPattern.Parse(pattern).IsMatch(value), Is.EqualTo(expected));

    [TestCase("", "must not be empty")]
    [TestCase("***", "three or more consecutive '*'")]
    [TestCase("tickets/***", "three or more consecutive '*'")]
    [TestCase("a****b", "three or more consecutive '*'")]
    [TestCase(" tickets", "leading or trailing white space")]
    [TestCase("tickets ", "leading or trailing white space")]
    [TestCase("tick\tets", "control character")]
    [TestCase("tick\nets", "control character")]
    public void Rejects_invalid_patterns_with_a_reason(string pattern, string expectedProblem)
    {
        Assert.That(GlobPattern.TryParse(pattern, out var glob, out var error), Is.False);
        Assert.That(glob, Is.Null);
        Assert.That(error, Does.Contain(expectedProblem));
        Assert.That(() => GlobPattern.Parse(pattern), Throws.TypeOf<FormatException>().With.Message.Contains(expectedProblem));
    }

    [Test]
    public void Rejects_overlong_pattern() =>
        Assert.That(() => GlobPattern.Parse(new string('a', GlobPattern.MaxLength + 1)), Throws.TypeOf<FormatException>());

    [Test]
    public void Keeps_pattern_text_and_reports_literal_patterns()
    {
        var literal = GlobPattern.Parse("tickets.read");
        var wildcard = GlobPattern.Parse("tickets.*");

        Assert.That(literal.Pattern, Is.EqualTo("tickets.read"));
        Assert.That(literal.IsLiteral, Is.True);
        Assert.That(wildcard.IsLiteral, Is.False);
        Assert.That(wildcard.ToString(), Is.EqualTo("tickets.*"));
    }

    [Test]
    public void Matching_is_linear_on_adversarial_input()
    {
        // A backtracking matcher takes exponential time here; the non-backtracking one finishes at once.
        var glob = GlobPattern.Parse("*a*a*a*a*a*a*a*a*a*a*a*a*b");
        var value = new string('a', 4000);

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var matched = glob.IsMatch(value);
        watch.Stop();

        Assert.That(matched, Is.False);
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)));
    }
}
