using System.Security.Cryptography;
using JitBroker.Core;
using JitBroker.Server.Notifications;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace JitBroker.Server.Tests.Notifications;

/// <summary>Builds notifiers against in-test receivers, with a private secret file per test.</summary>
internal sealed class NotificationTestKit : IDisposable
{
    public const string ConsoleBase = "https://console.example.test/";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("jitbroker-notify-");

    public NotificationTestKit() => SecretFile = WriteSecret("whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));

    public string SecretFile { get; }

    public BrokerMetrics Metrics { get; } = new();

    /// <summary>A file holding <paramref name="content"/>, mode 0600 unless <paramref name="mode"/> says otherwise.</summary>
    public string WriteSecret(string content, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
        var path = Path.Combine(_dir.FullName, Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, content);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }

        return path;
    }

    public NotificationSettings Settings(string url, string kind, Action<NotificationSettings>? tune = null)
    {
        var settings = new NotificationSettings
        {
            ConsoleBaseUrl = ConsoleBase, Timeout = TimeSpan.FromSeconds(2),
            RetryInitialDelay = TimeSpan.FromMilliseconds(100), RetryMaxDelay = TimeSpan.FromMilliseconds(200),
            Webhooks = [new WebhookSettings { Name = "approvers", Url = url, Kind = kind, SecretPath = kind == WebhookSettings.Json ? SecretFile : null }],
        };
        tune?.Invoke(settings);
        return settings;
    }

    public async Task<ApprovalWebhookNotifier> StartAsync(NotificationSettings settings, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        var problems = new List<string>();
        Assert.That(settings.Validate(production: false), Is.Empty);
        var targets = WebhookTarget.Load(settings, problems) ?? throw new InvalidOperationException(string.Join("; ", problems));
        var notifier = new ApprovalWebhookNotifier(targets, new WebhookSender(WebhookSender.NewClient(settings.Timeout), settings.Timeout, time),
            settings, Metrics, time, NullLogger<ApprovalWebhookNotifier>.Instance);
        await notifier.StartAsync(CancellationToken.None);
        return notifier;
    }

    public static ApprovalRecord Approval(TimeSpan expiresIn, string purpose = "customer was double charged", TimeProvider? time = null)
    {
        var now = (time ?? TimeProvider.System).GetUtcNow();
        return new ApprovalRecord
        {
            ApprovalId = "apr_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            RequestHash = "hash",
            AgentId = "spiffe://dev.jitbroker.local/agents/refunder",
            Request = new CredentialRequest("T-42", new TaskIntent("payments.refund", purpose, ["stripe"], ["orders/7"], new Dictionary<string, string>()),
                "jwt", "https://payments.internal.example", TimeSpan.FromMinutes(2)),
            RuleIds = ["refunds-need-approval"],
            Approvers = ["spiffe://dev.jitbroker.local/humans/leads/*"],
            CreatedAt = now,
            ExpiresAt = now + expiresIn,
        };
    }

    /// <summary>Waits for the notifier to have nothing queued or in flight.</summary>
    public static async Task DrainedAsync(INotificationStatus status, TimeSpan timeout)
    {
        var until = TimeProvider.System.GetUtcNow() + timeout;
        while (status.Queued > 0 && TimeProvider.System.GetUtcNow() < until)
        {
            await Task.Delay(10);
        }
    }

    public void Dispose()
    {
        Metrics.Dispose();
        _dir.Delete(recursive: true);
    }
}
