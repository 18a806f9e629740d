using JitBroker.Core.Admission;

namespace JitBroker.Server;

/// <summary>
/// Writes the attestation failure summary every interval, and once more on stop. Registered after the audit log's
/// hosted service, so it stops first and its last summary still reaches the log.
/// </summary>
internal sealed class AttestationFailureSummaryService(AttestationFailureSummary summary) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => summary.RunAsync(stoppingToken);
}
