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

            AuditTaskTrace trace;
            using (keys)
            {
                try
                {
                    trace = await AuditTrace.ReadTaskAsync(path.FullName, new AuditVerifierOptions { Keys = keys }, result.GetValue(task)!, result.GetValue(agent), ct);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    await Console.Error.WriteLineAsync("error: cannot read the audit file: " + e.Message);
                    return ExitCodes.Usage;
                }
            }

            var (verification, story) = (trace.Verification, trace.Story);
            if (!verification.Ok && !result.GetValue(unverified))
            {
                await Console.Error.WriteLineAsync("error: the audit chain does not verify; its story is not printed (see 'jitctl audit verify', or pass --unverified).");
                AuditCommands.PrintVerification(path.FullName, verification);
                return ExitCodes.Negative;
            }

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

    private static void Print(IReadOnlyList<AuditRecord> story, string taskId, AuditVerificationResult verification)
    {
        var chain = verification.Ok
            ? $"chain intact through seq {verification.LastSeq}" + (verification.SignaturesChecked ? $", signed through seq {verification.SignedThroughSeq?.ToString(CultureInfo.InvariantCulture) ?? "-"}" : " (signatures not checked: pass --jwks)")
            : "UNVERIFIED: the chain does not verify";
        Console.WriteLine($"task {taskId} — {chain}");
        if (AuditTrace.Intent(story) is { } intent)
        {
            Console.WriteLine($"intent: {intent[AuditFields.IntentAction]} — purpose \"{intent[AuditFields.IntentPurpose]}\"; tools {List(intent[AuditFields.IntentTools])}; resources {List(intent[AuditFields.IntentResources])}");
        }

        Console.WriteLine();
        Table.PrintRows(["SEQ", "TIME", "STEP", "AGENT", "LEASE", "DETAIL"], story.Select(r => new[]
        {
            r.Seq.ToString(CultureInfo.InvariantCulture), r.Time, AuditTrace.Step(r), r.GetString(AuditFields.AgentId) ?? "", r.GetString(AuditFields.LeaseId) ?? "", AuditTrace.Detail(r),
        }));
    }

    private static string List(JsonNode? array) => array is JsonArray a && a.Count > 0 ? string.Join(",", a.Select(v => v?.ToString())) : "(none)";
}
