using System.Collections.Concurrent;
using JitBroker.Core;

namespace JitBroker.Core.Tests;

/// <summary>Small in-memory fakes for the stores the pipeline talks to (the real ones have their own conformance suites).</summary>
internal sealed class FakeReplayCache : IReplayCache
{
    private readonly ConcurrentDictionary<string, string> _seen = new();

    public ValueTask<ReplayVerdict> CheckAndRecordAsync(string replayKey, string binding, DateTimeOffset keepUntil, CancellationToken cancellationToken = default)
    {
        var stored = _seen.GetOrAdd(replayKey, binding);
        return ValueTask.FromResult(ReferenceEquals(stored, binding) ? ReplayVerdict.FirstUse
            : stored == binding ? ReplayVerdict.SameBinding : ReplayVerdict.Replayed);
    }
}

internal sealed class FakeKillSwitch : IKillSwitch
{
    public List<AgentBlock> Blocks { get; } = [];

    public ValueTask<AgentBlock?> FindBlockAsync(string agentId, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Blocks.FirstOrDefault(b => b.AppliesAt(now) && GlobPattern.Parse(b.Pattern).IsMatch(agentId)));

    public ValueTask BlockAsync(AgentBlock block, CancellationToken cancellationToken = default)
    {
        Blocks.Add(block);
        return ValueTask.CompletedTask;
    }

    public ValueTask<bool> UnblockAsync(string pattern, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Blocks.RemoveAll(b => b.Pattern == pattern) > 0);

    public ValueTask<IReadOnlyList<AgentBlock>> ListAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<IReadOnlyList<AgentBlock>>([.. Blocks]);
}

internal sealed class FakeApprovalStore : IApprovalStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ApprovalRecord> _records = [];

    public Task PutAsync(ApprovalRecord approval, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _records.Add(approval.ApprovalId, approval);
        }

        return Task.CompletedTask;
    }

    public Task<ApprovalRecord?> GetAsync(string approvalId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult(_records.GetValueOrDefault(approvalId));
        }
    }

    public Task<IReadOnlyList<ApprovalRecord>> ListPendingAsync(DateTimeOffset now, int max, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<ApprovalRecord>>(
                [.. _records.Values.Where(r => r.State == ApprovalState.Pending && r.ExpiresAt > now).OrderBy(r => r.CreatedAt).Take(max)]);
        }
    }

    public Task<bool> TransitionAsync(ApprovalRecord next, ApprovalState expected, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_records.TryGetValue(next.ApprovalId, out var current) || current.State != expected)
            {
                return Task.FromResult(false);
            }

            _records[next.ApprovalId] = next;
            return Task.FromResult(true);
        }
    }
}

internal sealed class CapturingAuditLog : IAuditLog
{
    public ConcurrentQueue<AuditEvent> Events { get; } = new();

    public bool Fail { get; set; }

    public ValueTask AppendAsync(AuditEvent auditEvent, CancellationToken cancellationToken = default)
    {
        if (Fail)
        {
            throw new BrokerException(BrokerFailure.Unavailable, "audit.unavailable", "disk full");
        }

        Events.Enqueue(auditEvent);
        return ValueTask.CompletedTask;
    }

    public IEnumerable<AuditEvent> OfType(string type) => Events.Where(e => e.Type == type);
}
