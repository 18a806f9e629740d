namespace JitBroker.Core.Admission;

/// <summary>
/// How the broker absorbs callers that do not attest (section <c>JitBroker:Admission</c>): a per-peer rate limit
/// before attestation, and failures summarised once per interval instead of one audit record and log line each.
/// </summary>
public sealed class AdmissionOptions
{
    /// <summary>Where the host binds these options; every validation message names its key under this path.</summary>
    public const string SectionPath = "JitBroker:Admission";

    /// <summary>
    /// Failed attestations per second one peer (remote address) may cause, sustained. Every call holds a token while it
    /// runs and gives it back unless it fails attestation, so successful agents are not counted (and at most
    /// <see cref="PeerBurst"/> calls of one peer are in flight while its bucket is full).
    /// </summary>
    public double PeerFailuresPerSecond { get; set; } = 200;

    /// <summary>The token bucket's size: failed attestations one peer may cause at once after being quiet, and its most calls in flight.</summary>
    public int PeerBurst { get; set; } = 400;

    /// <summary>
    /// Most peers the limiter remembers. Beyond it, idle peers are forgotten first; if every one is busy, new peers
    /// share one bucket — so an attacker with many addresses cannot grow the broker's memory without bound.
    /// </summary>
    public int MaxTrackedPeers { get; set; } = 10_000;

    /// <summary>How often failed attestations (and rate-limited calls) are written as one summary per reason and peer.</summary>
    public TimeSpan FailureSummaryInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Most (reason, peer) pairs summarised per interval; the rest are counted together under peer <c>*</c>.</summary>
    public int FailureSummaryMaxKeys { get; set; } = 64;

    /// <summary>Credential fingerprints kept as samples per (reason, peer) pair and interval.</summary>
    public int FailureSummarySamples { get; set; } = 3;

    /// <summary>Returns one message per invalid setting; empty when the options are usable.</summary>
    public IEnumerable<string> Validate()
    {
        if (!double.IsFinite(PeerFailuresPerSecond) || PeerFailuresPerSecond is < 1 or > 1_000_000)
        {
            yield return $"{SectionPath}:PeerFailuresPerSecond must lie between 1 and 1000000.";
        }

        if (PeerBurst < 1 || PeerBurst > 10_000_000 || PeerBurst < PeerFailuresPerSecond / 10)
        {
            yield return $"{SectionPath}:PeerBurst must lie between 1 and 10000000 and hold at least a tenth of a second of PeerFailuresPerSecond.";
        }

        if (MaxTrackedPeers is < 16 or > 10_000_000)
        {
            yield return $"{SectionPath}:MaxTrackedPeers must lie between 16 and 10000000.";
        }

        if (FailureSummaryInterval < TimeSpan.FromSeconds(1) || FailureSummaryInterval > TimeSpan.FromHours(1))
        {
            yield return $"{SectionPath}:FailureSummaryInterval must lie between 1 second and 1 hour.";
        }

        if (FailureSummaryMaxKeys is < 1 or > 10_000)
        {
            yield return $"{SectionPath}:FailureSummaryMaxKeys must lie between 1 and 10000.";
        }

        if (FailureSummarySamples is < 0 or > 100)
        {
            yield return $"{SectionPath}:FailureSummarySamples must lie between 0 and 100.";
        }
    }
}
