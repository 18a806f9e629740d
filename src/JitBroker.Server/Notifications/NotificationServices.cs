using JitBroker.Core;

namespace JitBroker.Server.Notifications;

/// <summary>Wires approval notifications: the notifier when webhooks are configured, and <see cref="INotificationStatus"/> always.</summary>
internal static class NotificationServices
{
    public static void Add(IServiceCollection services, JitBrokerSettings settings)
    {
        var options = settings.Notifications;
        if (!options.Enabled)
        {
            services.AddSingleton<INotificationStatus, DisabledNotificationStatus>();
            return;
        }

        // Validated by LoadSettings already; read again here because the secrets are kept only by the notifier.
        var problems = new List<string>();
        var targets = WebhookTarget.Load(options, problems) ?? throw new InvalidBrokerConfigurationException(problems);
        services.AddSingleton(sp =>
        {
            var time = sp.GetRequiredService<TimeProvider>();
            return new ApprovalWebhookNotifier(targets, new WebhookSender(WebhookSender.NewClient(options.Timeout), options.Timeout, time), options,
                sp.GetRequiredService<BrokerMetrics>(), time, sp.GetRequiredService<ILogger<ApprovalWebhookNotifier>>());
        });
        services.AddSingleton<IApprovalNotifications>(sp => sp.GetRequiredService<ApprovalWebhookNotifier>());
        services.AddSingleton<INotificationStatus>(sp => sp.GetRequiredService<ApprovalWebhookNotifier>());
        services.AddHostedService(sp => sp.GetRequiredService<ApprovalWebhookNotifier>());
    }
}
