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

    private readonly Meter _meter;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _refusals;
    private readonly Histogram<double> _issuanceDuration;
    private readonly Counter<long> _revocations;
    private readonly Histogram<double> _revocationLag;
    private readonly Counter<long> _attestationFailures;
    private readonly Counter<long> _peerRateLimited;
    private readonly Counter<long> _quotaRefusals;

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

    /// <summary>Gauges read their value when exported (active leases, revoke_failed, pending approvals).</summary>
    public void AddGauge(string name, string unit, string description, Func<long> read) =>
        _meter.CreateObservableGauge(name, read, unit, description);

    public void Dispose() => _meter.Dispose();
}
