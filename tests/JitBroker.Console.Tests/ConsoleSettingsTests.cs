using JitBroker.Server;
using Microsoft.Extensions.Configuration;
using NUnit.Framework;

namespace JitBroker.Console.Tests;

/// <summary>Console configuration nonsense is refused at start-up (the same validation serves the <c>check</c> command).</summary>
public sealed class ConsoleSettingsTests
{
    private static readonly Dictionary<string, string?> Embedded = new()
    {
        ["JitBroker:Profile"] = "embedded",
        ["JitBroker:Listen:Console"] = "127.0.0.1:18090",
        ["JitBroker:Console:Enabled"] = "true",
        ["JitBroker:Console:PublicBaseUrl"] = "http://127.0.0.1:18090",
        ["JitBroker:Console:Oidc:Authority"] = "http://127.0.0.1:18091",
        ["JitBroker:Console:Oidc:ClientId"] = "jitbroker-console",
        ["JitBroker:Console:Oidc:RequireHttpsMetadata"] = "false",
        ["JitBroker:Console:Approvers:0:Group"] = "approvers",
    };

    private static IReadOnlyList<string> Errors(Dictionary<string, string?> changes)
    {
        var settings = new Dictionary<string, string?>(Embedded);
        ConsoleBroker.Override(settings, changes);

        try
        {
            BrokerHost.Check([], config => config.AddInMemoryCollection(settings));
            return [];
        }
        catch (InvalidBrokerConfigurationException ex)
        {
            return ex.Errors;
        }
    }

    [Test]
    public void A_sound_embedded_console_configuration_passes() =>
        Assert.That(Errors([]), Is.Empty);

    [Test]
    public void The_console_is_off_unless_enabled() =>
        Assert.That(new JitBrokerSettings().Console.Enabled, Is.False);

    [TestCase("JitBroker:Console:Oidc:Authority", "", "Console:Oidc:Authority")]
    [TestCase("JitBroker:Console:Oidc:Authority", "http://idp.corp.example", "Console:Oidc:Authority must use https")]
    [TestCase("JitBroker:Console:Oidc:ClientId", "", "Console:Oidc:ClientId is required")]
    [TestCase("JitBroker:Console:Oidc:ClientSecretFile", "/nonexistent/secret", "Console:Oidc:ClientSecretFile")]
    [TestCase("JitBroker:Console:PublicBaseUrl", "http://broker.corp.example:8443", "Console:PublicBaseUrl must use https")]
    [TestCase("JitBroker:Console:PublicBaseUrl", "https://broker.corp.example/console", "Console:PublicBaseUrl must be an absolute")]
    [TestCase("JitBroker:Console:ApproveMaxAge", "02:00:00", "Console:ApproveMaxAge")]
    [TestCase("JitBroker:Console:SessionLifetime", "00:00:10", "Console:SessionLifetime")]
    [TestCase("JitBroker:Console:Approvers:0:Subject", "https://login.corp.example#*", "exactly one of Subject")]
    [TestCase("JitBroker:Listen:Console", "0.0.0.0:18090", "must be a loopback address")]
    public void Nonsense_is_refused_naming_the_key(string key, string value, string expected) =>
        Assert.That(Errors(new() { [key] = value }), Has.Some.Contains(expected));

    [Test]
    public void A_role_member_glob_must_be_anchored_at_a_literal_authority() =>
        Assert.That(Errors(new() { ["JitBroker:Console:Approvers:0:Group"] = null, ["JitBroker:Console:Approvers:0:Subject"] = "https://*" }),
            Has.Some.Contains("Console:Approvers:0:Subject"));

    [Test]
    public void An_enabled_console_needs_at_least_one_member() =>
        Assert.That(Errors(new() { ["JitBroker:Console:Approvers:0:Group"] = null }), Has.Some.Contains("must name at least one member"));

    [Test]
    public void A_cleartext_admin_listener_without_a_console_listener_cannot_serve_browsers() =>
        Assert.That(Errors(new() { ["JitBroker:Listen:Console"] = null }), Has.Some.Contains("Listen:AdminCertificatePath"));

    [Test]
    public void A_console_listener_without_the_console_is_refused() =>
        Assert.That(Errors(new() { ["JitBroker:Console:Enabled"] = "false" }), Has.Some.Contains("Console:Enabled is false"));

    [Test]
    public void Production_refuses_the_cleartext_console_listener_and_an_http_provider()
    {
        var errors = Errors(new() { ["JitBroker:Profile"] = "production" });

        Assert.That(errors, Has.Some.Contains("Listen:Console is for the embedded profile only"));
        Assert.That(errors, Has.Some.Contains("RequireHttpsMetadata may be false only in the embedded profile"));
        Assert.That(errors, Has.Some.Contains("Console:PublicBaseUrl must use https"));
    }
}
