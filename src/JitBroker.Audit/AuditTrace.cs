using System.Text.Json;
using System.Text.Json.Nodes;

namespace JitBroker.Audit;

/// <summary>A task's story with the verification of the chain it was read from; <see cref="Story"/> is in chain order.</summary>
public sealed record AuditTaskTrace(AuditVerificationResult Verification, IReadOnlyList<AuditRecord> Story);

/// <summary>
/// One task's story from the audit chain — what <c>jitctl audit trace</c> prints and the console's task page shows: declared
/// intent, decision and rules, approvals, credentials issued and delegated, every use at every tool, revocations, the end.
/// </summary>
public static class AuditTrace
{
    /// <summary>
    /// Verifies the file's chain, then selects the task's records. When the chain verifies, records appended after the
    /// verification are left out (they are not part of what was verified); when it does not, every parseable record is
    /// selected and the caller decides whether to show an unverified story.
    /// </summary>
    public static async Task<AuditTaskTrace> ReadTaskAsync(string path, AuditVerifierOptions verifier, string taskId, string? agentId,
        CancellationToken cancellationToken = default)
    {
        var verification = await new AuditVerifier(verifier).VerifyFileAsync(path, cancellationToken).ConfigureAwait(false);
        var records = ReadRecords(path);
        return new AuditTaskTrace(verification, Select(verification.Ok ? records.Where(r => r.Seq <= verification.LastSeq) : records, taskId, agentId));
    }

    /// <summary>
    /// The task's records: those naming the task (and agent, when given), and those naming one of its leases — a
    /// revocation recovered without its task, a delegated child and everything about it. One pass: a child is issued
    /// after its parent, so the lease set is complete by the time its records come.
    /// </summary>
    public static List<AuditRecord> Select(IEnumerable<AuditRecord> records, string taskId, string? agentId)
    {
        var leases = new HashSet<string>(StringComparer.Ordinal);
        var story = new List<AuditRecord>();
        foreach (var r in records)
        {
            if (r.IsCheckpoint)
            {
                continue;
            }

            var ofTask = r.GetString(AuditFields.TaskId) == taskId && (agentId is null || r.GetString(AuditFields.AgentId) == agentId);
            var lease = r.GetString(AuditFields.LeaseId);
            var parent = r.GetString(AuditFields.ParentLeaseId);
            var ofLease = (lease is not null && leases.Contains(lease)) || (parent is not null && leases.Contains(parent));
            if (!ofTask && !ofLease)
            {
                continue;
            }

            if (lease is not null)
            {
                leases.Add(lease);
            }

            story.Add(r);
        }

        return story;
    }

    /// <summary>The step a record stands for, in a reader's words ("issued", "USED LATE", "approval allow").</summary>
    public static string Step(AuditRecord r) => r.Type switch
    {
        "request.denied" => "denied",
        "approval.requested" => "approval requested",
        "approval.decided" => "approval " + (r.GetString(AuditFields.Decision) ?? "decided"),
        "credential.issued" => "issued",
        "credential.delegated" => "delegated",
        "credential.renewed" => "renewed",
        "credential.used" => IsLate(r) ? "USED LATE" : "used",
        "credential.use_refused" => IsLate(r) ? "REFUSED LATE" : "refused at tool",
        "credential.revoked_by_holder" => "revoked by holder",
        "revocation.scheduled" => "revocation scheduled",
        "lease.revoked" => "revoked",
        "revocation.failed" => "revocation failed",
        "task.ended" => "task ended",
        var other => other,
    };

    /// <summary>A record's particulars on one line: the use at a tool, or decision, rules, actor; then parent, owner, reason, detail.</summary>
    public static string Detail(AuditRecord r)
    {
        var parts = new List<string?>();
        if (r.ToJson()[AuditFields.Use] is JsonObject use)
        {
            parts.Add($"{use[AuditFields.UseOutcome]} {use[AuditFields.UseTool]} {use[AuditFields.UseAction]} {use[AuditFields.UseResource]} at {use[AuditFields.UseAudience]} ({use[AuditFields.UseAt]})");
            parts.Add(r.GetString(AuditFields.Actor) is { } tool ? "reported by " + tool : null);
        }
        else
        {
            parts.Add(r.GetString(AuditFields.Decision) is { } d ? "decision " + d : null);
            parts.Add(r.GetStrings(AuditFields.RuleIds) is { Count: > 0 } rules ? "rules " + string.Join(",", rules) : null);
            parts.Add(r.GetString(AuditFields.Actor) is { } actor ? "by " + actor : null);
        }

        parts.Add(r.GetString(AuditFields.ParentLeaseId) is { } parent ? "parent " + parent : null);
        parts.Add(r.GetString(AuditFields.Owner) is { } owner ? "owner " + owner : null);
        parts.Add(r.GetString(AuditFields.Reason) is { } reason ? "reason " + reason : null);
        parts.Add(r.GetString(AuditFields.Detail));
        return string.Join("; ", parts.Where(p => !string.IsNullOrEmpty(p)));
    }

    /// <summary>The task's declared intent, from its first record that carries one.</summary>
    public static JsonObject? Intent(IEnumerable<AuditRecord> story) =>
        story.Select(r => r.ToJson()[AuditFields.Intent]).OfType<JsonObject>().FirstOrDefault();

    /// <summary>Every parseable record of the file; a torn or foreign line is skipped (verification names it). Reads a live file.</summary>
    public static List<AuditRecord> ReadRecords(string path)
    {
        var records = new List<AuditRecord>();
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            try
            {
                records.Add(AuditRecord.Parse(line));
            }
            catch (FormatException)
            {
                // Verification reports the bad line; the story shows what can be read.
            }
        }

        return records;
    }

    private static bool IsLate(AuditRecord r) => r.ToJson()[AuditFields.Use] is JsonObject use && use[AuditFields.UseLate]?.GetValueKind() == JsonValueKind.True;
}
