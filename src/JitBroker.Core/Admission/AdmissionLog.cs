using Microsoft.Extensions.Logging;

namespace JitBroker.Core.Admission;

/// <summary>Admission's log lines: one per summary interval, never one per rejected call.</summary>
internal static partial class AdmissionLog
{
    [LoggerMessage(EventId = 1401, EventName = "AttestationFailuresSummarised", Level = LogLevel.Warning,
        Message = "{Total} call(s) failed attestation or were rate limited in the last {IntervalSeconds:F0} s ({Pairs} reason/peer pair(s)); most: {Top}")]
    public static partial void FailuresSummarised(ILogger logger, long total, int pairs, double intervalSeconds, string top);
}
