using System.Diagnostics.Metrics;

namespace JitBroker.Core;

/// <summary>
/// The broker's one <see cref="Meter"/>, "JitBroker": dotted lowercase instrument names, durations in
/// seconds, tag names as constants. Exported by the host (OTLP and Prometheus text).
/// </summary>
public sealed class BrokerMetrics : IDisposable
{
    public const string MeterName = "JitBroker";
    public const string TagOutcome = "outcome";
    public const string TagReason = "reason";
    public const string TagIssuerKind = "issuer_kind";

    // Instruments other components read back (the console's charts, the host's gauges).
    public const string Requests = "jitbroker.requests";
    public const string RequestsRefused = "jitbroker.requests.refused";
    public const string RevocationLagSeconds = "jitbroker.revocation.lag";
    public const string LeasesRevokeFailed = "jitbroker.leases.revoke_failed";
    public const string ApprovalsPending = "jitbroker.approvals.pending";
    public const string AuditBatchRecords = "jitbroker.audit.batch.records";
    public const string AuditWriteDuration = "jitbroker.audit.write.duration";

    private readonly Meter _meter;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _refusals;
    private readonly Histogram<double> _issuanceDuration;
    private readonly Counter<long> _revocations;
    private readonly Histogram<double> _revocationLag;
    private readonly Counter<long> _attestationFailures;
    private readonly Counter<long> _peerRateLimited;
    private readonly Counter<long> _quotaRefusals;
    private readonly Histogram<long> _auditBatchRecords;
    private readonly Histogram<double> _auditWriteDuration;

    public BrokerMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _requests = _meter.CreateCounter<long>(Requests, "{request}", "RequestCredential calls by outcome.");
        _refusals = _meter.CreateCounter<long>(RequestsRefused, "{request}", "RequestCredential calls refused, by reason code.");
        _issuanceDuration = _meter.CreateHistogram<double>("jitbroker.issuance.duration", "s", "Time to attest, decide, mint and record one credential.");
        _revocations = _meter.CreateCounter<long>("jitbroker.revocations", "{revocation}", "Revocation attempts by outcome.");
        _revocationLag = _meter.CreateHistogram<double>(RevocationLagSeconds, "s", "Time from a lease's expiry to its revocation.");
        _attestationFailures = _meter.CreateCounter<long>("jitbroker.attestation.failures", "{failure}", "Rejected identities by reason code.");
        _peerRateLimited = _meter.CreateCounter<long>("jitbroker.peer.rate_limited", "{call}", "Agent API calls refused by the per-peer limit on failed attestations, before attestation.");
        _quotaRefusals = _meter.CreateCounter<long>("jitbroker.quota.refusals", "{refusal}", "Requests refused by a per-agent quota, by reason code (every refusal; the audit log records one per window).");
        _auditBatchRecords = _meter.CreateHistogram<long>(AuditBatchRecords, "{record}", "Records the audit writer stored in one sink write (one fsync under FsyncPolicy=Always).",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] });
        _auditWriteDuration = _meter.CreateHistogram<double>(AuditWriteDuration, "s", "Time of one audit sink write: the Redis stream copy (when Redis is configured), the file write and its fsync under FsyncPolicy=Always.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] });
    }

    public Meter Meter => _meter;

    public void RequestCompleted(string outcome) => _requests.Add(1, new KeyValuePair<string, object?>(TagOutcome, outcome));

    /// <summary>A refused request by its reason code (a catalogue, so the tag's values are bounded).</summary>
    public void RequestRefused(string reason) => _refusals.Add(1, new KeyValuePair<string, object?>(TagReason, reason));

    public void Issued(TimeSpan duration, string issuerKind) =>
        _issuanceDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>(TagIssuerKind, issuerKind));

    public void Revocation(RevocationStatus status, string issuerKind) =>
        _revocations.Add(1, new KeyValuePair<string, object?>(TagOutcome, status.ToString().ToLowerInvariant()),
            new KeyValuePair<string, object?>(TagIssuerKind, issuerKind));

    public void RevocationLag(TimeSpan lag) => _revocationLag.Record(Math.Max(0, lag.TotalSeconds));

    public void AttestationFailed(string reason) => _attestationFailures.Add(1, new KeyValuePair<string, object?>(TagReason, reason));

    public void PeerRateLimited() => _peerRateLimited.Add(1);
    public void QuotaRefused(string reason) => _quotaRefusals.Add(1, new KeyValuePair<string, object?>(TagReason, reason));

    /// <summary>
    /// One successful audit sink write: how many records it stored and how long it took. Every issuance waits for one,
    /// so the duration (fsync included under FsyncPolicy=Always) is the floor of its latency that the disk sets.
    /// </summary>
    public void AuditWritten(int records, TimeSpan duration)
    {
        _auditBatchRecords.Record(records);
        _auditWriteDuration.Record(duration.TotalSeconds);
    }

    /// <summary>Gauges read their value when exported (active leases, revoke_failed, pending approvals).</summary>
    public void AddGauge(string name, string unit, string description, Func<long> read) =>
        _meter.CreateObservableGauge(name, read, unit, description);

    public void Dispose() => _meter.Dispose();
}
