using JitBroker.Core.Handlers;
using Microsoft.Extensions.Logging;

namespace JitBroker.Core.Admission;

/// <summary>
/// Failed attestations (and calls refused by the peer rate limit) counted per reason and peer, and written once per
/// <see cref="AdmissionOptions.FailureSummaryInterval"/> as one <c>attestation.failures</c> audit record per pair with
/// a few credential fingerprints as samples, plus one log line. A caller that does not attest therefore never puts a
/// record in the audit queue that issuance waits on, and a flood costs the audit file at most
/// <see cref="AdmissionOptions.FailureSummaryMaxKeys"/> + 1 records per interval, however many calls it makes.
/// </summary>
public sealed class AttestationFailureSummary
{
    private readonly BestEffortAudit _audit;
    private readonly TimeProvider _time;
    private readonly ILogger<AttestationFailureSummary> _log;
    private readonly int _maxKeys;
    private readonly int _samples;
    private readonly Lock _gate = new();
    private Dictionary<(string Reason, string Peer), Tally> _tallies = [];
    private DateTimeOffset _since;

    public AttestationFailureSummary(BestEffortAudit audit, AdmissionOptions options, TimeProvider time, ILogger<AttestationFailureSummary> log)
    {
        _audit = audit;
        _time = time;
        _log = log;
        _maxKeys = options.FailureSummaryMaxKeys;
        _samples = options.FailureSummarySamples;
        Interval = options.FailureSummaryInterval;
        _since = time.GetUtcNow();
    }

    /// <summary>Peer named in a summary that counts the pairs beyond <see cref="AdmissionOptions.FailureSummaryMaxKeys"/>.</summary>
    public const string OtherPeers = "*";

    /// <summary>Peer named when the transport did not tell one.</summary>
    public const string UnknownPeer = "unknown";

    public TimeSpan Interval { get; }

    /// <summary>Counts one failure. Never waits and never writes: the cost of a rejected call stays a dictionary update.</summary>
    public void Record(string reason, string? peer, string? credentialFingerprint)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            var key = (reason, peer ?? UnknownPeer);
            if (!_tallies.TryGetValue(key, out var tally))
            {
                if (_tallies.Count >= _maxKeys)
                {
                    key = (reason, OtherPeers);
                    tally = _tallies.GetValueOrDefault(key);
                }

                if (tally is null)
                {
                    tally = new Tally(now);
                    _tallies[key] = tally;
                }
            }

            tally.Count++;
            tally.Last = now;
            if (credentialFingerprint is not null && tally.Samples.Count < _samples && !tally.Samples.Contains(credentialFingerprint))
            {
                tally.Samples.Add(credentialFingerprint);
            }
        }
    }

    /// <summary>Writes what was counted since the last flush (best effort: a lost summary is logged) and starts a new interval.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        Dictionary<(string Reason, string Peer), Tally> tallies;
        DateTimeOffset since;
        var until = _time.GetUtcNow();
        lock (_gate)
        {
            (tallies, _tallies) = (_tallies, []);
            (since, _since) = (_since, until);
        }

        if (tallies.Count == 0)
        {
            return;
        }

        var total = tallies.Values.Sum(t => t.Count);
        var top = string.Join(", ", tallies.OrderByDescending(p => p.Value.Count).Take(5).Select(p => $"{p.Key.Reason} from {p.Key.Peer}: {p.Value.Count}"));
        AdmissionLog.FailuresSummarised(_log, total, tallies.Count, (until - since).TotalSeconds, top);
        foreach (var ((reason, peer), tally) in tallies.OrderBy(p => p.Key.Reason, StringComparer.Ordinal).ThenBy(p => p.Key.Peer, StringComparer.Ordinal))
        {
            await _audit.RecordAsync(new AuditEvent
            {
                Type = AuditEventTypes.AttestationFailures, Reason = reason, Actor = peer,
                CredentialFingerprint = tally.Samples.FirstOrDefault(),
                Detail = Detail(tally, since, until),
            }, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Flushes every <see cref="Interval"/> until <paramref name="stoppingToken"/> fires, then once more.</summary>
    public async Task RunAsync(CancellationToken stoppingToken = default)
    {
        using var timer = new PeriodicTimer(Interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await FlushAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: the last interval is flushed below, before the audit log closes.
        }

        await FlushAsync(CancellationToken.None).ConfigureAwait(false);
    }

    // A stable, parseable shape: "count=N first=… last=… interval_start=… interval_end=… samples=fp1,fp2".
    private static string Detail(Tally tally, DateTimeOffset since, DateTimeOffset until) =>
        $"count={tally.Count} first={tally.First:O} last={tally.Last:O} interval_start={since:O} interval_end={until:O} samples={string.Join(',', tally.Samples)}";

    private sealed class Tally(DateTimeOffset first)
    {
        public long Count { get; set; }

        public DateTimeOffset First { get; } = first;

        public DateTimeOffset Last { get; set; } = first;

        public List<string> Samples { get; } = [];
    }
}
