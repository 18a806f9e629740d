using JitBroker.Core;

namespace JitBroker.Server.Ssf;

/// <summary>
/// <c>JitBroker:Ssf</c>: the OpenID Shared Signals transmitter (docs/ssf.md). Off by default; it needs the OAuth door's
/// listeners and issuer, and at least one receiver.
/// </summary>
public sealed class SsfSettings
{
    public bool Enabled { get; set; }

    /// <summary>Who may manage a stream, and for which audiences (the <c>aud</c> of the task tokens it wants to hear about).</summary>
    public List<SsfReceiverSettings> Receivers { get; set; } = [];

    /// <summary>How long an undelivered SET is kept for a receiver that is down; older ones are dropped (and counted).</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Most SETs claimed from one stream at once.</summary>
    public int MaxBatch { get; set; } = 500;

    /// <summary>Most pushes in flight to one receiver.</summary>
    public int MaxParallelPushes { get; set; } = 32;

    /// <summary>How long one push may take before it counts as failed and is retried.</summary>
    public TimeSpan PushTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the delivery loop looks for work queued by another replica (local work wakes it at once).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Backoff of a failing receiver: jittered, capped, no attempt limit (until <see cref="Retention"/>).</summary>
    public TimeSpan RetryInitialDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Allow <c>http://</c> delivery endpoints on loopback addresses (tests, a sidecar receiver); never other hosts.</summary>
    public bool AllowLoopbackHttp { get; set; }

    /// <summary>Most streams one receiver may have.</summary>
    public int MaxStreamsPerReceiver { get; set; } = 4;

    public IEnumerable<string> Validate(bool oauthEnabled)
    {
        if (!Enabled)
        {
            yield break;
        }

        if (!oauthEnabled)
        {
            yield return "Ssf:Enabled needs OAuth:Enabled (the transmitter is served beside the OAuth door, with its issuer).";
        }

        if (Receivers.Count == 0)
        {
            yield return "Ssf:Receivers must name at least one receiver identity when Ssf:Enabled is true.";
        }

        for (var i = 0; i < Receivers.Count; i++)
        {
            var r = Receivers[i];
            if ((GlobPattern.TryParse(r.Identity ?? "", out _, out var error) ? GlobPattern.AnchorProblem(r.Identity!) : error) is { } problem)
            {
                yield return $"Ssf:Receivers:{i}:Identity '{r.Identity}': {problem}.";
            }

            if (r.EndpointPrefixes.Any(p => !Uri.TryCreate(p, UriKind.Absolute, out var u) || !p.EndsWith('/') || u.Query.Length > 0 || u.Fragment.Length > 0))
            {
                yield return $"Ssf:Receivers:{i}:EndpointPrefixes must be absolute URLs ending in '/', without query or fragment.";
            }

            if (r.Audiences.Count == 0 || r.Audiences.Any(a => string.IsNullOrWhiteSpace(a) || a.Length > 512))
            {
                yield return $"Ssf:Receivers:{i}:Audiences must list one or more non-empty audiences (at most 512 characters each).";
            }
        }

        if (Retention < TimeSpan.FromMinutes(1) || Retention > TimeSpan.FromDays(30))
        {
            yield return "Ssf:Retention must be between 1 minute and 30 days.";
        }

        if (MaxBatch is < 1 or > 10_000)
        {
            yield return "Ssf:MaxBatch must be between 1 and 10000.";
        }

        if (MaxParallelPushes is < 1 or > 1024)
        {
            yield return "Ssf:MaxParallelPushes must be between 1 and 1024.";
        }

        if (PushTimeout < TimeSpan.FromMilliseconds(100) || PushTimeout > TimeSpan.FromMinutes(1))
        {
            yield return "Ssf:PushTimeout must be between 100 ms and 1 minute.";
        }

        if (PollInterval < TimeSpan.FromMilliseconds(10) || PollInterval > TimeSpan.FromSeconds(30))
        {
            yield return "Ssf:PollInterval must be between 10 ms and 30 seconds.";
        }

        if (RetryInitialDelay <= TimeSpan.Zero || RetryMaxDelay < RetryInitialDelay || RetryMaxDelay > TimeSpan.FromHours(1))
        {
            yield return "Ssf:RetryInitialDelay must be positive and at most Ssf:RetryMaxDelay, which is at most 1 hour.";
        }

        if (MaxStreamsPerReceiver is < 1 or > 100)
        {
            yield return "Ssf:MaxStreamsPerReceiver must be between 1 and 100.";
        }
    }
}

public sealed class SsfReceiverSettings
{
    /// <summary>Glob of workload identities (beginning with a literal <c>scheme://authority</c>), as admin principals are.</summary>
    public string? Identity { get; set; }

    /// <summary>The task-token audiences this receiver may hear about; it may request any subset of them, never more.</summary>
    public List<string> Audiences { get; set; } = [];

    /// <summary>
    /// When set, a stream's delivery URL must begin with one of these (absolute URLs ending in '/'): the broker POSTs to
    /// whatever URL a receiver registers, so pinning it keeps a compromised receiver identity from aiming pushes at an
    /// internal service.
    /// </summary>
    public List<string> EndpointPrefixes { get; set; } = [];
}
