using System.Net;
using System.Text.RegularExpressions;

namespace JitBroker.Server.Notifications;

/// <summary>
/// <c>JitBroker:Notifications</c>: webhooks told when an approval opens (docs/notifications.md). Off while no webhook is
/// configured.
/// </summary>
public sealed partial class NotificationSettings
{
    public const string SectionPath = "Notifications";

    /// <summary>
    /// The console's public base URL (<c>https://jitbroker.example.com</c>); a notice links to
    /// <c>{ConsoleBaseUrl}/console/approvals/{approvalId}</c>. Required when a webhook is configured; unset, it is the
    /// enabled console's <c>Console:PublicBaseUrl</c> (<see cref="DefaultConsoleBaseUrl"/>), so one URL is configured once.
    /// </summary>
    public string? ConsoleBaseUrl { get; set; }

    public List<WebhookSettings> Webhooks { get; set; } = [];

    /// <summary>How long one delivery may take (connect, send, response headers) before it counts as failed and is retried.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Backoff of a failing delivery: jittered, capped; retried until the approval expires, never after.</summary>
    public TimeSpan RetryInitialDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Most deliveries waiting or in flight on this replica (all webhooks together); beyond it a notice is dropped and counted.</summary>
    public int QueueCapacity { get; set; } = 1000;

    /// <summary>Most webhook requests in flight at once on this replica.</summary>
    public int MaxParallelDeliveries { get; set; } = 16;

    public bool Enabled => Webhooks.Count > 0;

    /// <summary>
    /// Before validation: an unset <see cref="ConsoleBaseUrl"/> takes the enabled console's public base URL, the address
    /// people open the console at. A value set here still wins (a console behind a different public name for chat links).
    /// </summary>
    public void DefaultConsoleBaseUrl(JitBroker.WebConsole.ConsoleSettings console)
    {
        if (string.IsNullOrWhiteSpace(ConsoleBaseUrl) && console.Enabled && !string.IsNullOrWhiteSpace(console.PublicBaseUrl))
        {
            ConsoleBaseUrl = console.PublicBaseUrl;
        }
    }

    public IEnumerable<string> Validate(bool production)
    {
        if (!Enabled)
        {
            if (ConsoleBaseUrl is not null && !IsBaseUrl(ConsoleBaseUrl, production))
            {
                yield return $"{SectionPath}:ConsoleBaseUrl must be an absolute https URL without query or fragment{(production ? "" : " (http on loopback)")}.";
            }

            yield break;
        }

        if (ConsoleBaseUrl is null || !IsBaseUrl(ConsoleBaseUrl, production))
        {
            yield return $"{SectionPath}:ConsoleBaseUrl is required with webhooks: an absolute https URL without query or fragment " +
                $"(http only on loopback{(production ? ", and not in production" : "")}); notices link to {{ConsoleBaseUrl}}/console/approvals/{{id}}.";
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Webhooks.Count; i++)
        {
            foreach (var problem in Webhooks[i].Validate())
            {
                yield return $"{SectionPath}:Webhooks:{i}:{problem}";
            }

            if (Webhooks[i].Name is { } name && !names.Add(name))
            {
                yield return $"{SectionPath}:Webhooks:{i}:Name '{name}' is used twice; names key the metrics and the status.";
            }
        }

        if (Timeout < TimeSpan.FromMilliseconds(100) || Timeout > TimeSpan.FromMinutes(1))
        {
            yield return $"{SectionPath}:Timeout must be between 100 ms and 1 minute.";
        }

        if (RetryInitialDelay <= TimeSpan.Zero || RetryMaxDelay < RetryInitialDelay || RetryMaxDelay > TimeSpan.FromHours(1))
        {
            yield return $"{SectionPath}:RetryInitialDelay must be positive and at most {SectionPath}:RetryMaxDelay, which is at most 1 hour.";
        }

        if (QueueCapacity is < 1 or > 1_000_000)
        {
            yield return $"{SectionPath}:QueueCapacity must be between 1 and 1000000.";
        }

        if (MaxParallelDeliveries is < 1 or > 1024)
        {
            yield return $"{SectionPath}:MaxParallelDeliveries must be between 1 and 1024.";
        }
    }

    /// <summary>https anywhere; http only to a loopback host (a sidecar, a test receiver), and for the console link never in production.</summary>
    internal static bool IsAllowedUrl(string value, bool allowLoopbackHttp, out Uri? uri) =>
        Uri.TryCreate(value, UriKind.Absolute, out uri) && uri.UserInfo.Length == 0 && uri.Fragment.Length == 0
        && (uri.Scheme == Uri.UriSchemeHttps || (allowLoopbackHttp && uri.Scheme == Uri.UriSchemeHttp && IsLoopback(uri)));

    private static bool IsBaseUrl(string value, bool production) =>
        IsAllowedUrl(value, allowLoopbackHttp: !production, out var uri) && uri!.Query.Length == 0;

    private static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.DnsSafeHost, out var ip) && IPAddress.IsLoopback(ip));

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,62}$")]
    internal static partial Regex NamePattern();
}

public sealed class WebhookSettings
{
    public const string Slack = "slack";
    public const string Json = "json";

    /// <summary>Names the webhook in metrics (tag <c>webhook</c>), logs and the status: lowercase letters, digits, '-' and '_'.</summary>
    public string? Name { get; set; }

    /// <summary>
    /// Where to POST. A Slack incoming-webhook URL is itself a secret (its path is the credential): it is never logged or
    /// shown — only its scheme, host and port are. Prefer <see cref="UrlFile"/> for it.
    /// </summary>
    public string? Url { get; set; }

    /// <summary>A file holding the URL (a mounted Secret), instead of <see cref="Url"/>.</summary>
    public string? UrlFile { get; set; }

    /// <summary><c>slack</c> (an incoming-webhook message) or <c>json</c> (the generic payload, signed per Standard Webhooks).</summary>
    public string Kind { get; set; } = Json;

    /// <summary>
    /// <c>json</c> only: the signing secret, <c>whsec_</c> + base64 of 24–64 random bytes (as Standard Webhooks serialises
    /// it; <c>echo "whsec_$(openssl rand -base64 32)"</c>), in a file only its owner can read.
    /// </summary>
    public string? SecretPath { get; set; }

    internal IEnumerable<string> Validate()
    {
        if (Name is null || !NotificationSettings.NamePattern().IsMatch(Name))
        {
            yield return "Name must be 1–63 characters: lowercase letters, digits, '-' and '_'.";
        }

        if ((Url is null) == (UrlFile is null))
        {
            yield return "set Url or UrlFile (exactly one).";
        }
        else if (Url is not null && !NotificationSettings.IsAllowedUrl(Url, allowLoopbackHttp: true, out _))
        {
            // The URL itself may be a secret: the message never repeats it.
            yield return "Url must be an absolute https URL (http only to a loopback address), without user info or fragment.";
        }
        else if (UrlFile is not null && !File.Exists(UrlFile))
        {
            yield return $"UrlFile '{UrlFile}' does not exist.";
        }

        switch (Kind)
        {
            case Json when SecretPath is null:
                yield return "SecretPath is required for kind 'json': the payload is signed (docs/notifications.md).";
                break;
            case Slack when SecretPath is not null:
                yield return "SecretPath is for kind 'json' only: Slack incoming webhooks are not signed (the URL is the secret).";
                break;
            case not (Json or Slack):
                yield return $"Kind must be '{Slack}' or '{Json}', not '{Kind}'.";
                break;
        }
    }
}
