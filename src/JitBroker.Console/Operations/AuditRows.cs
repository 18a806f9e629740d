using JitBroker.Audit;

namespace JitBroker.WebConsole.Operations;

/// <summary>An audit record as a table row: the same step names and particulars as <c>jitctl audit trace</c> (<see cref="AuditTrace"/>).</summary>
public sealed record AuditRow(long Seq, string Time, string Type, string Step, string? AgentId, string? TaskId, string? LeaseId, string Detail)
{
    public static AuditRow Of(AuditRecord r) => new(r.Seq, ConsoleTime.Format(r.Time), r.Type, AuditTrace.Step(r), r.GetString(AuditFields.AgentId),
        r.GetString(AuditFields.TaskId), r.GetString(AuditFields.LeaseId), ConsoleTime.InText(AuditTrace.Detail(r)));
}
