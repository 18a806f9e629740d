namespace JitBroker.Core.Admission;

/// <summary>
/// How the broker absorbs callers that do not attest (section <c>JitBroker:Admission</c>): a per-peer rate limit
/// before attestation, and failures summarised once per interval instead of one audit record and log line each.
/// </summary>
public sealed class AdmissionOptions
{
    /// <summary>Where the host binds these options; every validation message names its key under this path.</summary>
    public const string SectionPath = "JitBroker:Admission";

    /// <summary>Calls per second one peer (remote address) may make to the agent API, sustained.</summary>
    public double PeerRequestsPerSecond { get; set; } = 200;

    /// <summary>Calls one peer may make at once after being idle (the token bucket's size).</summary>
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
        if (!double.IsFinite(PeerRequestsPerSecond) || PeerRequestsPerSecond is < 1 or > 1_000_000)
        {
            yield return $"{SectionPath}:PeerRequestsPerSecond must lie between 1 and 1000000.";
        }

        if (PeerBurst < 1 || PeerBurst > 10_000_000 || PeerBurst < PeerRequestsPerSecond / 10)
        {
            yield return $"{SectionPath}:PeerBurst must lie between 1 and 10000000 and hold at least a tenth of a second of PeerRequestsPerSecond.";
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
