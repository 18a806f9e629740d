using JitBroker.Core;
using Microsoft.Extensions.Logging;
using Quartz;

namespace JitBroker.Revocation;

/// <summary>Runs <see cref="RevocationConsistency.RunOnceAsync"/> every <see cref="RevocationOptions.ConsistencyInterval"/>.</summary>
[DisallowConcurrentExecution]
public sealed partial class RevocationConsistencyJob : IJob
{
    private readonly RevocationConsistency _consistency;
    private readonly ILogger<RevocationConsistencyJob> _log;

    public RevocationConsistencyJob(RevocationConsistency consistency, ILogger<RevocationConsistencyJob> log)
    {
        _consistency = consistency;
        _log = log;
    }

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        try
        {
            await _consistency.RunOnceAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down; the next replica's (or start's) pass covers the rest.
        }
        catch (Exception ex)
        {
            // Store outages included: the next firing tries again.
            LogFailed(_log, ex);
        }
    }

    [LoggerMessage(EventId = 3121, EventName = "RevocationConsistencyFailed", Level = LogLevel.Warning,
        Message = "Revocation consistency sweep failed; the next firing retries")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
