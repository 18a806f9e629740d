using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>
/// The one pattern language (policy selectors and scopes, approvers, admin principals, kill-switch blocks,
/// revocation by pattern, OIDC subject patterns). Every user compiles through <see cref="GlobPattern"/>, so
/// these cases are the whole specification; docs/policy.md "Globs" says the same in prose.
/// </summary>
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
    [TestCase("*", "anything-without-separator", true)]
    [TestCase("*", "", true)]
    [TestCase("*", "a/b", false)]
    [TestCase("**", "a/b/c", true)]
    [TestCase("t?ckets", "tickets", true)]
    [TestCase("t?ckets", "tckets", false)]
    [TestCase("t?ckets", "t/ckets", false)]
    [TestCase("t?ckets", "tiickets", false)]
    [TestCase("a*b*c", "axxbyyc", true)]
    [TestCase("a*b*c", "axx/byyc", false)]
    [TestCase("a**b*c", "ax/x/byyc", true)]
    [TestCase("a**b*c", "axxb/yyc", false)]
    public void Matches_whole_value_with_documented_wildcards(string pattern, string value, bool expected) =>
        Assert.That(GlobPattern.Parse(pattern).IsMatch(value), Is.EqualTo(expected));

    // Identities: SPIFFE paths separate with '/', Kubernetes and CI subjects with ':'; '*' and '?' cross neither.
    [TestCase("spiffe://td/agents/support-*", "spiffe://td/agents/support-bot", true)]
    [TestCase("spiffe://td/agents/support-*", "spiffe://td/agents/support-bot/child", false)]
    [TestCase("spiffe://td/agents/support-*", "spiffe://td/agents/x/support-bot", false)]
    [TestCase("spiffe://td/*/bot", "spiffe://td/agents/bot", true)]
    [TestCase("spiffe://td/*/bot", "spiffe://td/a/b/bot", false)]
    [TestCase("spiffe://td/**/bot", "spiffe://td/a/b/bot", true)]
    [TestCase("spiffe://td/**", "spiffe://tdx/agents", false)]
    [TestCase("system:serviceaccount:agents:*", "system:serviceaccount:agents:planner", true)]
    [TestCase("system:serviceaccount:agents:plan?er", "system:serviceaccount:agents:planner", true)]
    [TestCase("system:serviceaccount:**", "system:serviceaccount:agents:planner", true)]
    [TestCase("system:serviceaccount:*", "system:serviceaccount:agents:planner", false)]
    [TestCase("system:serviceaccount:other:*", "system:serviceaccount:agents:planner", false)]
    [TestCase("system:serviceaccount:agents:plan", "system:serviceaccount:agents:planner", false)]
    [TestCase("System:serviceaccount:agents:planner", "system:serviceaccount:agents:planner", false)]
    [TestCase("system:serviceaccount:agents?planner", "system:serviceaccount:agents:planner", false)]
    [TestCase("repo:org/*", "repo:org/app:pull_request", false)]
    [TestCase("repo:org/*:environment:prod", "repo:org/app:environment:prod", true)]
    [TestCase("repo:org/app:ref:refs/heads/*", "repo:org/app:ref:refs/heads/feature/x", false)]
    [TestCase("repo:org/app:ref:refs/heads/**", "repo:org/app:ref:refs/heads/feature/x", true)]
    [TestCase("*:bot", "ns:bot", true)]
    [TestCase("*:bot", "a:ns:bot", false)]
    [TestCase("https://idp.example#system:serviceaccount:agents:*", "https://idp.example#system:serviceaccount:agents:bot", true)]
    public void Star_and_question_mark_stop_at_both_separators_and_double_star_crosses_them(string pattern, string value, bool expected) =>
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
    [TestCase("spiffe://td/a+(b)?*", "spiffe://td/a+(b)?z", true)]
    public void Regex_syntax_and_backslash_are_literal_text(string pattern, string value, bool expected = false) =>
        Assert.That(GlobPattern.Parse(pattern).IsMatch(value), Is.EqualTo(expected));

    [TestCase(null, "must not be empty")]
    [TestCase("", "must not be empty")]
    [TestCase("***", "three or more consecutive '*'")]
    [TestCase("tickets/***", "three or more consecutive '*'")]
    [TestCase("a****b", "three or more consecutive '*'")]
    [TestCase(" tickets", "leading or trailing white space")]
    [TestCase("tickets ", "leading or trailing white space")]
    [TestCase("tick\tets", "control character")]
    [TestCase("tick\nets", "control character")]
    [TestCase("tick\u0085ets", "control character")]
    public void Refuses_invalid_patterns_with_a_reason(string? pattern, string expectedProblem)
    {
        Assert.That(GlobPattern.TryParse(pattern, out var glob, out var error), Is.False);
        Assert.That(glob, Is.Null);
        Assert.That(error, Does.Contain(expectedProblem));
    }

    [Test]
    public void Parse_throws_format_exception_naming_the_problem() =>
        Assert.That(() => GlobPattern.Parse("a***"), Throws.TypeOf<FormatException>().With.Message.Contains("three or more consecutive '*'"));

    [Test]
    public void Refuses_overlong_pattern_and_accepts_the_maximum()
    {
        Assert.That(GlobPattern.TryParse(new string('a', GlobPattern.MaxLength + 1), out _, out var error), Is.False);
        Assert.That(error, Does.Contain("at most 512"));
        Assert.That(GlobPattern.TryParse(new string('a', GlobPattern.MaxLength), out _, out _), Is.True);
    }

    [Test]
    public void Keeps_pattern_text_and_reports_literal_patterns()
    {
        var literal = GlobPattern.Parse("tickets.read");
        var wildcard = GlobPattern.Parse("tickets.*");

        Assert.That(literal.Pattern, Is.EqualTo("tickets.read"));
        Assert.That(literal.IsLiteral, Is.True);
        Assert.That(wildcard.IsLiteral, Is.False);
        Assert.That(wildcard.ToString(), Is.EqualTo("tickets.*"));
        Assert.That(GlobPattern.HasWildcard("a?"), Is.True);
        Assert.That(GlobPattern.HasWildcard("spiffe://td/a"), Is.False);
    }

    [TestCase("spiffe://corp.example/humans/*", true)]
    [TestCase("https://idp.example#system:serviceaccount:ops:*", true)]
    [TestCase("spiffe://corp.example/humans/alice", true)]
    [TestCase("*", false)]
    [TestCase("**", false)]
    [TestCase("spiffe://**", false)]
    [TestCase("https://*.example/x", false)]
    [TestCase("spiffe://corp.example*", false)]
    [TestCase("humans/*", false)]
    public void Url_shaped_principal_patterns_must_begin_with_a_literal_scheme_and_authority(string pattern, bool anchored) =>
        Assert.That(GlobPattern.AnchorProblem(pattern), anchored ? Is.Null : Does.Contain("literal scheme://authority"));

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
