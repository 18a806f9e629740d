using System.Collections.Concurrent;
using JitBroker.Core;
using JitBroker.OAuth;

namespace JitBroker.Server.OAuth;

/// <summary>
/// Step-up approval the OAuth way (RFC 8628 §3.5, OpenID CIBA poll mode): a request that needs a person's approval is
/// answered <c>authorization_pending</c> with the <c>approval_id</c>, the <c>interval</c> to poll at and <c>expires_in</c>;
/// the client polls the token endpoint with the same request plus <c>approval_id</c>. Polling faster than the interval is
/// answered <c>slow_down</c> and the interval grows by 5 seconds for that approval, as RFC 8628 says. Poll times are kept
/// per replica (a client spread over replicas may poll a little faster; the approval itself is in the shared store).
/// </summary>
internal sealed class ApprovalPolls(OAuthSettings settings, TimeProvider time)
{
    private const int MaxTracked = 100_000;
    private static readonly TimeSpan SlowDownStep = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<string, (DateTimeOffset Last, TimeSpan Interval)> _polls = new(StringComparer.Ordinal);

    /// <summary>Throws <c>slow_down</c> when this agent polled this approval less than its interval ago; records the poll. Call only for an attested agent.</summary>
    public void EnsurePollingPolitely(string agentId, string approvalId)
    {
        var key = agentId + " " + approvalId;
        var now = time.GetUtcNow();
        if (_polls.Count > MaxTracked)
        {
            foreach (var stale in _polls.Where(p => now - p.Value.Last > TimeSpan.FromMinutes(10)).Select(p => p.Key).ToList())
            {
                _polls.TryRemove(stale, out _);
            }
        }

        var tooSoon = false;
        var interval = settings.ApprovalPollInterval;
        _polls.AddOrUpdate(key, _ => (now, settings.ApprovalPollInterval), (_, previous) =>
        {
            // A small allowance for network jitter: a client sleeping exactly the interval is not punished.
            tooSoon = now - previous.Last < previous.Interval - TimeSpan.FromMilliseconds(500);
            interval = tooSoon ? previous.Interval + SlowDownStep : previous.Interval;
            return (now, interval);
        });
        if (tooSoon)
        {
            throw new OAuthProtocolException(OAuthErrors.SlowDown, Reasons.OAuth.ApprovalPollTooFast,
                $"Poll at most every {(int)interval.TotalSeconds} seconds.");
        }
    }

    /// <summary>The answer for a request still waiting for its approval.</summary>
    public PendingApprovalException Pending(ApprovalRecord approval, string taskId)
    {
        var interval = _polls.TryGetValue(approval.AgentId + " " + approval.ApprovalId, out var p) ? p.Interval : settings.ApprovalPollInterval;
        var expiresIn = Math.Max(0, (long)(approval.ExpiresAt - time.GetUtcNow()).TotalSeconds);
        return new PendingApprovalException(approval.ApprovalId, taskId, (long)interval.TotalSeconds, expiresIn);
    }
}

/// <summary><c>authorization_pending</c> with what the client needs to poll.</summary>
internal sealed class PendingApprovalException(string approvalId, string taskId, long interval, long expiresIn)
    : Exception("The request waits for a person's approval.")
{
    public OAuthProtocolException Error { get; } = new(OAuthErrors.AuthorizationPending, Reasons.PolicyApprovalRequired,
        "This request needs a person's approval; poll the token endpoint with the same request and approval_id.");

    public void WriteExtra(System.Text.Json.Utf8JsonWriter writer)
    {
        writer.WriteString("approval_id", approvalId);
        writer.WriteString("task_id", taskId);
        writer.WriteNumber("interval", interval);
        writer.WriteNumber("expires_in", expiresIn);
    }
}
