using JitBroker.Server.Notifications;
using JitBroker.WebConsole;
using Microsoft.Extensions.Configuration;
using NUnit.Framework;

namespace JitBroker.Server.Tests.Notifications;

/// <summary>Start-up validation of <c>JitBroker:Notifications</c>: every bad value refused naming its key, and no URL or secret in a message.</summary>
public sealed class NotificationSettingsTests
{
    private const string SlackUrl = "https://hooks.slack.example/services/T000/B000/XXXXhooktokenXXXX";
    private NotificationTestKit _kit = null!;

    [SetUp]
    public void Setup() => _kit = new NotificationTestKit();

    [TearDown]
    public void Teardown() => _kit.Dispose();

    private NotificationSettings Valid() => new()
    {
        ConsoleBaseUrl = "https://jitbroker.example.com",
        Webhooks =
        [
            new WebhookSettings { Name = "slack-approvers", Kind = WebhookSettings.Slack, Url = SlackUrl },
            new WebhookSettings { Name = "soar", Kind = WebhookSettings.Json, Url = "https://soar.example.com/hooks/jitbroker", SecretPath = _kit.SecretFile },
        ],
    };

    [Test]
    public void A_valid_configuration_and_an_empty_one_pass_and_its_files_load()
    {
        Assert.That(Valid().Validate(production: true), Is.Empty);
        Assert.That(new NotificationSettings().Validate(production: true), Is.Empty, "no webhooks: off");
        var problems = new List<string>();
        var targets = WebhookTarget.Load(Valid(), problems);
        Assert.That(problems, Is.Empty);
        Assert.That(targets!.Select(t => t.ToString()), Is.EqualTo(new[]
        {
            "slack-approvers (slack, https://hooks.slack.example)", "soar (json, https://soar.example.com)",
        }), "what may be shown: never the path of a Slack URL");
    }

    private static readonly (string Name, Action<NotificationSettings> Break, string Key)[] Cases =
    [
        ("no console URL", s => s.ConsoleBaseUrl = null, "Notifications:ConsoleBaseUrl"),
        ("console over http in production", s => s.ConsoleBaseUrl = "http://127.0.0.1:8080", "Notifications:ConsoleBaseUrl"),
        ("plain http to a remote host", s => s.Webhooks[1].Url = "http://soar.example.com/hooks", "Notifications:Webhooks:1:Url"),
        ("user info in the URL", s => s.Webhooks[1].Url = "https://user:pw@soar.example.com/", "Notifications:Webhooks:1:Url"),
        ("relative URL", s => s.Webhooks[0].Url = "/hooks", "Notifications:Webhooks:0:Url"),
        ("Url and UrlFile", s => s.Webhooks[0].UrlFile = "/etc/hostname", "Notifications:Webhooks:0:set Url or UrlFile"),
        ("missing UrlFile", s => (s.Webhooks[0].Url, s.Webhooks[0].UrlFile) = (null, "/nonexistent/url"), "Notifications:Webhooks:0:UrlFile"),
        ("json without a secret", s => s.Webhooks[1].SecretPath = null, "Notifications:Webhooks:1:SecretPath is required"),
        ("slack with a secret", s => s.Webhooks[0].SecretPath = "/tmp/x", "Notifications:Webhooks:0:SecretPath is for kind 'json' only"),
        ("unknown kind", s => s.Webhooks[0].Kind = "teams", "Notifications:Webhooks:0:Kind"),
        ("bad name", s => s.Webhooks[0].Name = "Slack Approvers", "Notifications:Webhooks:0:Name"),
        ("duplicate name", s => s.Webhooks[1].Name = "slack-approvers", "Notifications:Webhooks:1:Name 'slack-approvers' is used twice"),
        ("timeout zero", s => s.Timeout = TimeSpan.Zero, "Notifications:Timeout"),
        ("backoff inverted", s => s.RetryMaxDelay = TimeSpan.FromMilliseconds(1), "Notifications:RetryInitialDelay"),
        ("queue zero", s => s.QueueCapacity = 0, "Notifications:QueueCapacity"),
        ("parallel zero", s => s.MaxParallelDeliveries = 0, "Notifications:MaxParallelDeliveries"),
    ];

    [TestCaseSource(nameof(Cases))]
    public void Each_bad_value_is_refused_naming_its_key_and_never_the_url((string Name, Action<NotificationSettings> Break, string Key) c)
    {
        var settings = Valid();
        c.Break(settings);
        var problems = settings.Validate(production: true).ToList();
        Assert.That(problems, Has.Some.Contains(c.Key), c.Name);
        Assert.That(string.Join("\n", problems), Does.Not.Contain("hooktoken").IgnoreCase, "a Slack URL is a secret");
    }

    [Test]
    public void Plain_http_is_allowed_to_loopback_only()
    {
        var settings = Valid();
        settings.ConsoleBaseUrl = "http://127.0.0.1:8080";
        settings.Webhooks[1].Url = "http://127.0.0.1:9000/hook";
        settings.Webhooks[0].Url = "http://[::1]:9000/hook";
        Assert.That(settings.Validate(production: false), Is.Empty);
    }

    [Test]
    public void Without_its_own_console_url_a_notice_links_to_the_enabled_consoles_public_base_url()
    {
        var settings = Valid();
        settings.ConsoleBaseUrl = null;
        settings.DefaultConsoleBaseUrl(new ConsoleSettings { Enabled = true, PublicBaseUrl = "https://broker.corp.example:8443" });
        Assert.That(settings.ConsoleBaseUrl, Is.EqualTo("https://broker.corp.example:8443"));
        Assert.That(settings.Validate(production: true), Is.Empty, "one URL configured once is enough");
    }

    [Test]
    public void A_console_url_set_for_notifications_wins_over_the_consoles_own()
    {
        var settings = Valid();
        settings.DefaultConsoleBaseUrl(new ConsoleSettings { Enabled = true, PublicBaseUrl = "https://broker.corp.example:8443" });
        Assert.That(settings.ConsoleBaseUrl, Is.EqualTo("https://jitbroker.example.com"));
    }

    [Test]
    public void A_disabled_console_lends_no_url_and_webhooks_still_need_one()
    {
        var settings = Valid();
        settings.ConsoleBaseUrl = null;
        settings.DefaultConsoleBaseUrl(new ConsoleSettings { Enabled = false, PublicBaseUrl = "https://broker.corp.example:8443" });
        Assert.That(settings.ConsoleBaseUrl, Is.Null);
        Assert.That(settings.Validate(production: true), Has.Some.Contains("Notifications:ConsoleBaseUrl is required"));
    }

    private static readonly (string Name, string Content, UnixFileMode Mode, string Problem)[] BadSecrets =
    [
        ("readable by others", "whsec_" + Convert.ToBase64String(new byte[32]), UnixFileMode.UserRead | UnixFileMode.OtherRead, "chmod 600"),
        ("too short", "whsec_" + Convert.ToBase64String(new byte[16]), UnixFileMode.UserRead, "holds 16 bytes"),
        ("too long", "whsec_" + Convert.ToBase64String(new byte[65]), UnixFileMode.UserRead, "holds 65 bytes"),
        ("not base64", "whsec_not*base64*at*all*not*base64*at*all", UnixFileMode.UserRead, "base64"),
    ];

    [TestCaseSource(nameof(BadSecrets))]
    public void A_secret_file_that_is_not_private_and_long_enough_stops_the_start((string Name, string Content, UnixFileMode Mode, string Problem) c)
    {
        var settings = Valid();
        settings.Webhooks[1].SecretPath = _kit.WriteSecret(c.Content, c.Mode);
        var problems = new List<string>();
        Assert.That(WebhookTarget.Load(settings, problems), Is.Null, c.Name);
        Assert.That(problems, Has.One.Contains("Notifications:Webhooks:1:SecretPath").And.Contains(c.Problem));
        Assert.That(problems[0], Does.Not.Contain(c.Content["whsec_".Length..]), "the secret is never repeated");
    }

    [Test]
    public void The_broker_refuses_to_start_on_an_unreadable_secret_through_the_same_check_as_start_up()
    {
        var secret = _kit.WriteSecret("whsec_" + Convert.ToBase64String(new byte[32]), UnixFileMode.UserRead | UnixFileMode.GroupRead);
        var ex = Assert.Throws<InvalidBrokerConfigurationException>(() => BrokerHost.Check([], config => config.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["JitBroker:DataDirectory"] = Path.GetTempPath(),
            ["JitBroker:Notifications:ConsoleBaseUrl"] = "https://jitbroker.example.com",
            ["JitBroker:Notifications:Webhooks:0:Name"] = "soar",
            ["JitBroker:Notifications:Webhooks:0:Url"] = "https://soar.example.com/hooks",
            ["JitBroker:Notifications:Webhooks:0:SecretPath"] = secret,
        })));
        Assert.That(ex!.Errors, Has.One.Contains("JitBroker:Notifications:Webhooks:0:SecretPath").And.Contains("chmod 600"));
    }
}
