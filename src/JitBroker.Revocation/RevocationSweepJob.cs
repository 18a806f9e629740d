using Microsoft.Extensions.Logging;
using Quartz;

namespace JitBroker.Revocation;

/// <summary>
/// The Quartz job that runs one <see cref="RevocationSweeper.SweepOnceAsync"/> per firing. Sweeps never
/// overlap on one node; across replicas the store's atomic claims keep them apart.
/// </summary>
[DisallowConcurrentExecution]
public sealed partial class RevocationSweepJob : IJob
{
    private readonly RevocationSweeper _sweeper;
    private readonly ILogger<RevocationSweepJob> _log;

    public RevocationSweepJob(RevocationSweeper sweeper, ILogger<RevocationSweepJob> log)
    {
        _sweeper = sweeper;
        _log = log;
    }

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        try
        {
            await _sweeper.SweepOnceAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: what this sweep claimed but did not finish is taken over when its claims lapse.
            LogSweepInterrupted(_log);
        }
        catch (Exception ex)
        {
            // The sweeper already absorbs store and backend failures; anything else must not stop the trigger.
            LogSweepFailed(_log, ex);
        }
    }

    [LoggerMessage(EventId = 3111, EventName = "RevocationSweepInterrupted", Level = LogLevel.Information,
        Message = "Revocation sweep interrupted by shutdown; unfinished claims lapse and are retried")]
    private static partial void LogSweepInterrupted(ILogger logger);

    [LoggerMessage(EventId = 3112, EventName = "RevocationSweepFailed", Level = LogLevel.Error,
        Message = "Revocation sweep failed unexpectedly; the next firing retries")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
