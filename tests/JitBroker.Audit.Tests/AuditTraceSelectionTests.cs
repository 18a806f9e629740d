using JitBroker.Audit;
using NUnit.Framework;

namespace JitBroker.Audit.Tests;

/// <summary>Which records <c>jitctl audit trace</c> and the console's task page count as a task's story: its own, and everything about its leases.</summary>
public sealed class AuditTraceSelectionTests
{
    private static readonly string Hash = new('0', 64);
    private static long _seq;

    private static AuditRecord Record(string type, string? task = null, string? lease = null, string? parent = null, string agent = "spiffe://a/agents/x") =>
        AuditRecord.Parse("{" + string.Join(",", new[]
        {
            $"\"seq\":{++_seq}", "\"time\":\"2026-12-03T08:00:00.000000Z\"", $"\"type\":\"{type}\"", $"\"agent_id\":\"{agent}\"",
            task is null ? null : $"\"task_id\":\"{task}\"", lease is null ? null : $"\"lease_id\":\"{lease}\"",
            parent is null ? null : $"\"parent_lease_id\":\"{parent}\"", $"\"prev_hash\":\"{Hash}\"", $"\"hash\":\"{Hash}\"",
        }.Where(m => m is not null)) + "}");

    [Test]
    public void A_task_s_story_takes_in_its_delegated_children_and_records_that_name_only_its_leases()
    {
        var records = new[]
        {
            Record("credential.issued", "t", "L1"),
            Record("credential.issued", "other", "L9"),
            Record("credential.delegated", "worker-task", "L2", parent: "L1", agent: "spiffe://a/workers/w"),
            Record("credential.used", "worker-task", "L2", agent: "spiffe://a/workers/w"),
            Record("credential.use_refused", lease: "L9"),
            Record("lease.revoked", lease: "L1"),
            Record("task.ended", "t"),
        };

        var story = AuditTrace.Select(records, "t", agentId: null);

        Assert.That(story.Select(r => r.Type), Is.EqualTo(new[] { "credential.issued", "credential.delegated", "credential.used", "lease.revoked", "task.ended" }));
    }

    [Test]
    public void The_agent_filter_keeps_two_agents_tasks_of_one_name_apart()
    {
        var records = new[] { Record("credential.issued", "t", "L1", agent: "spiffe://a/agents/x"), Record("credential.issued", "t", "L2", agent: "spiffe://a/agents/y") };

        var story = AuditTrace.Select(records, "t", "spiffe://a/agents/y");

        Assert.That(story.Select(r => r.GetString(AuditFields.LeaseId)), Is.EqualTo(new[] { "L2" }));
    }
}
