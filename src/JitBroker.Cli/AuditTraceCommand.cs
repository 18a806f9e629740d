using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using JitBroker.Audit;

namespace JitBroker.Cli;

/// <summary>
/// <c>jitctl audit trace FILE --task T</c>: one task's story from the audit chain, in chain order — declared intent and
/// purpose, decision and rule ids (with the rule's owner), approvals, credentials issued and delegated (with parents),
/// every use at every tool (late ones flagged), revocations, the task's end. The chain is verified first; an unverified
/// chain's story is not printed without <c>--unverified</c>. Exit 0 printed, 1 chain not intact, 2 usage, 5 no record of the task.
/// </summary>
internal static class AuditTraceCommand
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "The audit JSON-lines file." };
        var task = new Option<string>("--task") { Description = "The task id.", Required = true };
        var agent = new Option<string?>("--agent") { Description = "Only this agent's task (task ids are chosen by agents and may repeat)." };
        var jwks = new Option<string?>("--jwks") { Description = "JWKS of the audit checkpoint key (URL or file), as for 'audit verify'." };
        var publicKeys = new Option<FileInfo[]>("--public-key") { Description = "The audit key's public half as PEM (repeatable), as for 'audit verify'." };
        var unverified = new Option<bool>("--unverified") { Description = "Print the story even when the chain does not verify (marked UNVERIFIED)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON document: {task_id, verified, events:[stored records]}." };
        var command = new Command("trace", "Print one task's story from the audit chain, after verifying the chain.")
        {
            file, task, agent, jwks, publicKeys, unverified, json,
        };
        command.SetAction(async (result, ct) =>
        {
            var path = result.GetValue(file)!;
            if (!path.Exists)
            {
                await Console.Error.WriteLineAsync($"error: no such file: {path.FullName}");
                return ExitCodes.Usage;
            }

            var (keys, failed) = await AuditCommands.LoadKeysAsync(result, publicKeys, jwks, ct);
            if (failed is { } exit)
            {
                return exit;
            }

            AuditVerificationResult verification;
            List<AuditRecord> records;
            using (keys)
            {
                try
                {
                    verification = await new AuditVerifier(new AuditVerifierOptions { Keys = keys }).VerifyFileAsync(path.FullName, ct);
                    records = ReadRecords(path.FullName);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    await Console.Error.WriteLineAsync("error: cannot read the audit file: " + e.Message);
                    return ExitCodes.Usage;
                }
            }

            if (!verification.Ok && !result.GetValue(unverified))
            {
                await Console.Error.WriteLineAsync("error: the audit chain does not verify; its story is not printed (see 'jitctl audit verify', or pass --unverified).");
                AuditCommands.PrintVerification(path.FullName, verification);
                return ExitCodes.Negative;
            }

            // Records appended after the verification are not part of what was verified.
            var story = Select(verification.Ok ? records.Where(r => r.Seq <= verification.LastSeq) : records, result.GetValue(task)!, result.GetValue(agent));
            if (story.Count == 0)
            {
                await Console.Error.WriteLineAsync($"error: no record of task '{result.GetValue(task)}' in {path.FullName}");
                return ExitCodes.NotFound;
            }

            if (result.GetValue(json))
            {
                var document = new JsonObject
                {
                    ["task_id"] = result.GetValue(task),
                    ["verified"] = verification.Ok,
                    ["signatures_checked"] = verification.SignaturesChecked,
                    ["events"] = new JsonArray([.. story.Select(r => (JsonNode)r.ToJson())]),
                };
                Console.WriteLine(document.ToJsonString(Indented));
                return ExitCodes.Ok;
            }

            Print(story, result.GetValue(task)!, verification);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// The task's records: those naming the task (and agent, when given), and those naming one of its leases — a
    /// revocation recovered without its task, a delegated child and everything about it. One pass: a child is issued
    /// after its parent, so the lease set is complete by the time its records come.
    /// </summary>
    internal static List<AuditRecord> Select(IEnumerable<AuditRecord> records, string taskId, string? agentId)
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

    private static List<AuditRecord> ReadRecords(string path)
    {
        var records = new List<AuditRecord>();
        foreach (var line in File.ReadLines(path))
        {
            try
            {
                records.Add(AuditRecord.Parse(line));
            }
            catch (FormatException)
            {
                // Only reachable with --unverified: verification names the bad line.
            }
        }

        return records;
    }

    private static void Print(List<AuditRecord> story, string taskId, AuditVerificationResult verification)
    {
        var chain = verification.Ok
            ? $"chain intact through seq {verification.LastSeq}" + (verification.SignaturesChecked ? $", signed through seq {verification.SignedThroughSeq?.ToString(CultureInfo.InvariantCulture) ?? "-"}" : " (signatures not checked: pass --jwks)")
            : "UNVERIFIED: the chain does not verify";
        Console.WriteLine($"task {taskId} — {chain}");
        if (story.FirstOrDefault(r => r.ToJson()[AuditFields.Intent] is JsonObject) is { } declared && declared.ToJson()[AuditFields.Intent] is JsonObject intent)
        {
            Console.WriteLine($"intent: {intent[AuditFields.IntentAction]} — purpose \"{intent[AuditFields.IntentPurpose]}\"; tools {List(intent[AuditFields.IntentTools])}; resources {List(intent[AuditFields.IntentResources])}");
        }

        Console.WriteLine();
        Table.PrintRows(["SEQ", "TIME", "STEP", "AGENT", "LEASE", "DETAIL"], story.Select(r => new[]
        {
            r.Seq.ToString(CultureInfo.InvariantCulture), r.Time, Step(r), r.GetString(AuditFields.AgentId) ?? "", r.GetString(AuditFields.LeaseId) ?? "", Detail(r),
        }));
    }

    private static string Step(AuditRecord r) => r.Type switch
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

    private static bool IsLate(AuditRecord r) => r.ToJson()[AuditFields.Use] is JsonObject use && use[AuditFields.UseLate]?.GetValueKind() == JsonValueKind.True;

    private static string Detail(AuditRecord r)
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

    private static string List(JsonNode? array) => array is JsonArray a && a.Count > 0 ? string.Join(",", a.Select(v => v?.ToString())) : "(none)";
}
