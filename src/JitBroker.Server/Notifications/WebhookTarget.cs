using System.Security.Cryptography;

namespace JitBroker.Server.Notifications;

/// <summary>A configured webhook with its URL and secret read from their files. <see cref="ToString"/> shows neither.</summary>
public sealed class WebhookTarget
{
    /// <summary>Standard Webhooks: a symmetric secret is 24 to 64 random bytes (192 to 512 bits).</summary>
    public const int MinSecretBytes = 24;
    public const int MaxSecretBytes = 64;
    public const string SecretPrefix = "whsec_";

    private const UnixFileMode ForbiddenForSecrets =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private WebhookTarget(string name, string kind, Uri url, byte[]? secret)
    {
        Name = name;
        Kind = kind;
        Url = url;
        Secret = secret;
        Endpoint = url.GetLeftPart(UriPartial.Authority);
    }

    public string Name { get; }

    public string Kind { get; }

    /// <summary>The whole URL: may carry a secret in its path (Slack). Sent to, never logged.</summary>
    public Uri Url { get; }

    /// <summary>Scheme, host and port only: what logs, metrics and the status may show.</summary>
    public string Endpoint { get; }

    /// <summary>The signing key of a <c>json</c> webhook; null for <c>slack</c>.</summary>
    internal byte[]? Secret { get; }

    public override string ToString() => $"{Name} ({Kind}, {Endpoint})";

    /// <summary>
    /// Reads every webhook's URL file and secret file. Returns the targets, or null with <paramref name="problems"/> filled
    /// (naming files, never their contents). Run by start-up and by <c>check</c> alike.
    /// </summary>
    public static IReadOnlyList<WebhookTarget>? Load(NotificationSettings settings, List<string> problems)
    {
        var targets = new List<WebhookTarget>();
        var before = problems.Count;
        for (var i = 0; i < settings.Webhooks.Count; i++)
        {
            var w = settings.Webhooks[i];
            var key = $"JitBroker:{NotificationSettings.SectionPath}:Webhooks:{i}";
            var url = w.Url ?? ReadUrl(w.UrlFile!, key, problems);
            if (url is null)
            {
                continue;
            }

            byte[]? secret = null;
            if (w.Kind == WebhookSettings.Json && (secret = ReadSecret(w.SecretPath!, key, problems)) is null)
            {
                continue;
            }

            targets.Add(new WebhookTarget(w.Name!, w.Kind, new Uri(url), secret));
        }

        return problems.Count == before ? targets : null;
    }

    private static string? ReadUrl(string path, string key, List<string> problems)
    {
        try
        {
            var url = File.ReadAllText(path).Trim();
            if (NotificationSettings.IsAllowedUrl(url, allowLoopbackHttp: true, out _))
            {
                return url;
            }

            problems.Add($"{key}:UrlFile '{path}' must hold an absolute https URL (http only to a loopback address), without user info or fragment.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problems.Add($"{key}:UrlFile '{path}' cannot be read: {e.GetType().Name}.");
        }

        return null;
    }

    /// <summary><c>whsec_</c> + base64 (the prefix is optional), 24–64 bytes, readable by its owner only.</summary>
    private static byte[]? ReadSecret(string path, string key, List<string> problems)
    {
        try
        {
            if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & ForbiddenForSecrets) != 0)
            {
                problems.Add($"{key}:SecretPath '{path}' is accessible to group or other; restrict it to its owner (chmod 600).");
                return null;
            }

            var text = File.ReadAllText(path).Trim();
            var secret = Convert.FromBase64String(text.StartsWith(SecretPrefix, StringComparison.Ordinal) ? text[SecretPrefix.Length..] : text);
            if (secret.Length is >= MinSecretBytes and <= MaxSecretBytes)
            {
                return secret;
            }

            CryptographicOperations.ZeroMemory(secret);
            problems.Add($"{key}:SecretPath '{path}' holds {secret.Length} bytes; a signing secret is {MinSecretBytes}–{MaxSecretBytes} random bytes.");
        }
        catch (FormatException)
        {
            problems.Add($"{key}:SecretPath '{path}' is not '{SecretPrefix}' followed by base64.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problems.Add($"{key}:SecretPath '{path}' cannot be read: {e.GetType().Name}.");
        }

        return null;
    }
}
