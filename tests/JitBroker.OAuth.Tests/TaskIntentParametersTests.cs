using System.Text;
using NUnit.Framework;

namespace JitBroker.OAuth.Tests;

/// <summary>resource (RFC 8707), scope (RFC 6749 §3.3) and authorization_details (RFC 9396) read as one declared task.</summary>
public sealed class TaskIntentParametersTests
{
    private const string Api = "https://api.example.com/";

    internal static string Form(params (string Name, string Value)[] parameters) =>
        string.Join('&', parameters.Select(p => Uri.EscapeDataString(p.Name) + "=" + Uri.EscapeDataString(p.Value)));

    internal static DeclaredTask Parse(params (string Name, string Value)[] parameters) =>
        TaskIntentParameters.Parse(OAuthForm.Parse(Encoding.UTF8.GetBytes(Form(parameters)), "resource"));

    internal static string Details(string members) => $$"""[{"type":"jitbroker_task"{{(members.Length > 0 ? "," + members : "")}}}]""";

    private static void Refused(string error, string reason, params (string Name, string Value)[] parameters) =>
        Refusal.Expect(() => Parse(parameters), error, reason);

    [Test]
    public void Scope_and_resource_alone_declare_a_task()
    {
        var task = Parse(("resource", Api), ("scope", "tickets.read tool:jira tool:slack"));
        Assert.Multiple(() =>
        {
            Assert.That(task.Action, Is.EqualTo("tickets.read"));
            Assert.That(task.Tools, Is.EqualTo(new[] { "jira", "slack" }));
            Assert.That(task.Audience, Is.EqualTo(Api));
            Assert.That(task.TaskId, Is.Null);
            Assert.That(task.Purpose, Is.Null);
            Assert.That(task.Resources, Is.Empty);
            Assert.That(task.Context, Is.Empty);
            Assert.That(task.RequestedTtl, Is.Null);
        });
    }

    [Test]
    public void Authorization_details_carry_every_member()
    {
        var task = Parse(("resource", Api), ("authorization_details",
            """[{"type":"jitbroker_task","task_id":"t-1","action":"tickets.read","purpose":"triage","tools":["jira"],"resources":["ticket/1","ticket/2"],"context":{"ticket":"1"},"locations":["https://api.example.com/"],"ttl_seconds":300}]"""));
        Assert.Multiple(() =>
        {
            Assert.That(task.TaskId, Is.EqualTo("t-1"));
            Assert.That(task.Action, Is.EqualTo("tickets.read"));
            Assert.That(task.Purpose, Is.EqualTo("triage"));
            Assert.That(task.Tools, Is.EqualTo(new[] { "jira" }));
            Assert.That(task.Resources, Is.EqualTo(new[] { "ticket/1", "ticket/2" }));
            Assert.That(task.Context, Is.EqualTo(new Dictionary<string, string> { ["ticket"] = "1" }));
            Assert.That(task.Audience, Is.EqualTo(Api));
            Assert.That(task.RequestedTtl, Is.EqualTo(TimeSpan.FromSeconds(300)));
        });
    }

    // resource

    [Test]
    public void Two_resources_are_refused_because_aud_is_one_string() =>
        Refused(OAuthErrors.InvalidTarget, OAuthReasons.ResourceMultiple, ("resource", Api), ("resource", "https://other.example.com/"), ("scope", "read"));

    [TestCase("https://api.example.com/#frag")]
    [TestCase("/relative/path")]
    [TestCase("api.example.com")]
    [TestCase(" https://api.example.com/")]
    [TestCase("https://api.example.com/ x")]
    [TestCase("https:\\\\api.example.com\\")]
    [TestCase("https://api.example.com/%zz")]
    [TestCase("https://api.exämple.com/")]
    [TestCase("1https://api.example.com/")]
    [TestCase("https://[::1/")]
    public void A_resource_that_is_not_an_absolute_uri_without_fragment_is_refused(string resource) =>
        Refused(OAuthErrors.InvalidTarget, OAuthReasons.ResourceInvalid, ("resource", resource), ("scope", "read"));

    [TestCase("urn:example:api")]
    [TestCase("https://api.example.com:8443/v1?tenant=a")]
    public void A_resource_that_is_an_absolute_uri_becomes_the_audience_as_sent(string resource) =>
        Assert.That(Parse(("resource", resource), ("scope", "read")).Audience, Is.EqualTo(resource));

    [Test]
    public void Without_a_resource_the_single_location_is_the_audience() =>
        Assert.That(Parse(("scope", "read"), ("authorization_details", Details("\"locations\":[\"https://a.example/\"]"))).Audience, Is.EqualTo("https://a.example/"));

    [Test]
    public void Without_a_resource_two_locations_are_refused() =>
        Refused(OAuthErrors.InvalidTarget, OAuthReasons.ResourceMissing, ("scope", "read"), ("authorization_details", Details("\"locations\":[\"https://a.example/\",\"https://b.example/\"]")));

    [Test]
    public void Without_a_resource_or_locations_the_request_is_refused() =>
        Refused(OAuthErrors.InvalidTarget, OAuthReasons.ResourceMissing, ("scope", "read"));

    [Test]
    public void Locations_must_contain_the_resource() =>
        Refused(OAuthErrors.InvalidAuthorizationDetails, OAuthReasons.DetailsLocationMismatch,
            ("resource", Api), ("scope", "read"), ("authorization_details", Details("\"locations\":[\"https://b.example/\"]")));

    [Test]
    public void Locations_that_contain_the_resource_among_others_are_accepted() =>
        Assert.That(Parse(("resource", Api), ("scope", "read"), ("authorization_details", Details($"\"locations\":[\"https://b.example/\",\"{Api}\"]"))).Audience, Is.EqualTo(Api));

    [Test]
    public void A_location_that_is_not_an_absolute_uri_is_refused() =>
        Refused(OAuthErrors.InvalidAuthorizationDetails, OAuthReasons.DetailsInvalidValue, ("scope", "read"), ("authorization_details", Details("\"locations\":[\"/x\"]")));

    // scope

    [TestCase("read  tool:a", TestName = "A double space in scope is refused")]
    [TestCase(" read", TestName = "A leading space in scope is refused")]
    [TestCase("read ", TestName = "A trailing space in scope is refused")]
    [TestCase("re\"ad", TestName = "A quote in scope is refused")]
    [TestCase("re\\ad", TestName = "A backslash in scope is refused")]
    [TestCase("réad", TestName = "A non-ASCII scope is refused")]
    [TestCase("tool:", TestName = "A tool token without a name is refused")]
    public void A_malformed_scope_is_refused(string scope) =>
        Refused(OAuthErrors.InvalidScope, OAuthReasons.ScopeInvalid, ("resource", Api), ("scope", scope));

    [Test]
    public void Two_actions_in_scope_are_refused() =>
        Refused(OAuthErrors.InvalidScope, OAuthReasons.ScopeMultipleActions, ("resource", Api), ("scope", "read write"));

    [Test]
    public void A_repeated_scope_token_is_refused() =>
        Refused(OAuthErrors.InvalidScope, OAuthReasons.ScopeDuplicateToken, ("resource", Api), ("scope", "read tool:a tool:a"));

    [Test]
    public void No_action_anywhere_is_refused() =>
        Refused(OAuthErrors.InvalidScope, OAuthReasons.ActionMissing, ("resource", Api), ("scope", "tool:a"));

    [Test]
    public void The_action_may_come_from_authorization_details_alone() =>
        Assert.That(Parse(("resource", Api), ("authorization_details", Details("\"action\":\"deploy\""))).Action, Is.EqualTo("deploy"));

    // scope and authorization_details together

    [Test]
    public void Scope_and_details_that_agree_are_accepted()
    {
        var task = Parse(("resource", Api), ("scope", "tool:b read tool:a"), ("authorization_details", Details("\"action\":\"read\",\"tools\":[\"a\",\"b\"]")));
        Assert.That(task.Action, Is.EqualTo("read"));
        Assert.That(task.Tools, Is.EquivalentTo(new[] { "a", "b" }));
    }

    [Test]
    public void Scope_and_details_with_different_actions_are_refused() =>
        Refused(OAuthErrors.InvalidScope, OAuthReasons.ScopeDetailsMismatch, ("resource", Api), ("scope", "read"), ("authorization_details", Details("\"action\":\"write\"")));

    [Test]
    public void Scope_and_details_with_different_tools_are_refused() =>
        Refused(OAuthErrors.InvalidScope, OAuthReasons.ScopeDetailsMismatch, ("resource", Api), ("scope", "read tool:a"), ("authorization_details", Details("\"tools\":[\"a\",\"b\"]")));

    [Test]
    public void Details_tools_with_scope_silent_on_tools_are_taken() =>
        Assert.That(Parse(("resource", Api), ("scope", "read"), ("authorization_details", Details("\"tools\":[\"a\"]"))).Tools, Is.EqualTo(new[] { "a" }));
}
