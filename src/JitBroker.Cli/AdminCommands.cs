using System.CommandLine;
using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using JitBroker.Protocol.V1;
using Grpc.Core;

namespace JitBroker.Cli;

/// <summary>Operator commands over the admin API: leases, revoke, block/unblock/blocks, approvals.</summary>
internal static class AdminCommands
{
    public static IEnumerable<Command> Create(CommonOptions common) =>
        [Leases(common), AgentCommands.Agents(common), Revoke(common), Block(common), Unblock(common), Blocks(common), Approvals(common), ReceiverCommands.Create(common)];

    private static Command Leases(CommonOptions common)
    {
        var agent = new Option<string?>("--agent") { Description = "Only this agent's leases." };
        var task = new Option<string?>("--task") { Description = "Only this task id." };
        var state = new Option<string?>("--state") { Description = "active | revoking | revoked | revoke_failed" };
        var failed = new Option<bool>("--failed") { Description = "Shortcut for --state revoke_failed: revocations still being retried." };
        var within = new Option<int?>("--expiring-within") { Description = "Only leases expiring within N seconds." };
        var kind = new Option<string?>("--kind") { Description = "Only this issuer kind." };
        var pageSize = new Option<int>("--page-size") { Description = "Leases per page.", DefaultValueFactory = _ => 100 };
        var pageToken = new Option<string?>("--page-token") { Description = "Continue from a previous page." };
        var command = new Command("leases", "List leases (filters combine).") { agent, task, state, failed, within, kind, pageSize, pageToken };
        common.AddTo(command);
        command.SetAction((r, ct) => RunAdmin(common, r, async admin =>
        {
            var request = new ListLeasesRequest
            {
                AgentId = r.GetValue(agent) ?? "", TaskId = r.GetValue(task) ?? "", IssuerKind = r.GetValue(kind) ?? "",
                State = r.GetValue(failed) ? "revoke_failed" : r.GetValue(state) ?? "", PageSize = r.GetValue(pageSize), PageToken = r.GetValue(pageToken) ?? "",
                ExpiringBefore = r.GetValue(within) is { } s ? Timestamp.FromDateTimeOffset(TimeProvider.System.GetUtcNow().AddSeconds(s)) : null,
            };
            var page = await admin.ListLeasesAsync(request, ct);
            if (Json(common, r, page))
            {
                return ExitCodes.Ok;
            }

            Table.PrintRows(["LEASE", "STATE", "AGENT", "TASK", "OWNER", "KIND", "AUDIENCE", "EXPIRES", "ATTEMPTS", "LAST ERROR"],
                page.Leases.Select(l => new[]
                {
                    l.LeaseId, l.State, l.AgentId, l.TaskId, l.Owner, l.IssuerKind, l.Audience, l.ExpiresAt.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture),
                    l.Attempts.ToString(CultureInfo.InvariantCulture), l.LastError,
                }));
            if (page.NextPageToken.Length > 0)
            {
                Console.WriteLine($"more: --page-token {page.NextPageToken}");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Revoke(CommonOptions common)
    {
        var lease = new Option<string?>("--lease") { Description = "One lease id." };
        var task = new Option<string?>("--task") { Description = "A task id (all agents' leases for it, or --agent's)." };
        var agent = new Option<string?>("--agent") { Description = "Every lease of this agent (or, with --task, whose task)." };
        var pattern = new Option<string?>("--agent-pattern") { Description = "Fleet-wide: agents matching a glob (* within a segment, ** across). Needs --yes." };
        var all = new Option<bool>("--all") { Description = "Every lease. Needs --yes." };
        var yes = new Option<bool>("--yes") { Description = "Confirm a broad revocation (--agent-pattern, --all)." };
        var reason = new Option<string>("--reason") { Description = "Why (kept in the audit log).", DefaultValueFactory = _ => "" };
        var wait = WaitOptions.Create();
        var command = new Command("revoke", "Schedule leases for revocation now (delegated descendants with them); --wait follows until revoked.")
        {
            lease, task, agent, pattern, all, yes, reason, wait.Wait, wait.Timeout,
        };
        common.AddTo(command);
        command.SetAction((r, ct) => RunAdmin(common, r, async admin =>
        {
            var request = new RevokeLeasesRequest { Confirm = r.GetValue(yes), Reason = r.GetValue(reason)! };
            if (r.GetValue(lease) is { } l) { request.LeaseId = l; }
            else if (r.GetValue(task) is { } t) { request.TaskId = t; request.TaskAgentId = r.GetValue(agent) ?? ""; }
            else if (r.GetValue(agent) is { } a) { request.AgentId = a; }
            else if (r.GetValue(pattern) is { } p) { request.AgentPattern = p; }
            else if (r.GetValue(all)) { request.All = true; }
            else { throw new UsageException("name what to revoke: --lease, --task, --agent, --agent-pattern or --all."); }

            if ((request.SelectorCase is RevokeLeasesRequest.SelectorOneofCase.AgentPattern or RevokeLeasesRequest.SelectorOneofCase.All) && !request.Confirm)
            {
                throw new UsageException("this revokes leases fleet-wide; add --yes to confirm.");
            }

            var response = await Progress.WhileAsync("scheduling", admin.RevokeAsync(request, ct));
            return await FollowAsync(common, r, admin, wait, response, ct);
        }));
        return command;
    }

    private static Command Block(CommonOptions common)
    {
        var pattern = new Argument<string>("agent") { Description = "Agent id or glob pattern, e.g. spiffe://corp/agents/*" };
        var reason = new Option<string>("--reason") { Description = "Why (shown to the agent, kept in the audit log).", Required = true };
        var duration = new Option<TimeSpan?>("--for") { Description = "Lift the block by itself after this long (hh:mm:ss); revoked credentials stay revoked." };
        var wait = WaitOptions.Create();
        var command = new Command("block",
            "Kill switch: refuse matching agents' requests and credentials at once, and schedule all their leases (and delegated ones) for revocation; --wait follows until revoked.")
        {
            pattern, reason, duration, wait.Wait, wait.Timeout,
        };
        common.AddTo(command);
        command.SetAction((r, ct) => RunAdmin(common, r, async admin =>
        {
            var request = new BlockAgentRequest { Pattern = r.GetValue(pattern)!, Reason = r.GetValue(reason)! };
            if (r.GetValue(duration) is { } d)
            {
                request.Duration = Duration.FromTimeSpan(d);
            }

            var response = await Progress.WhileAsync("blocking", admin.BlockAsync(request, ct));
            if (!r.GetValue(common.Json))
            {
                var until = response.Block.ExpiresAt is { } end ? $" until {end.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture)}" : "";
                Console.WriteLine($"blocked {response.Block.Pattern}{until} (by {response.Block.BlockedBy}): {response.Block.Reason}");
            }

            return await FollowAsync(common, r, admin, wait, response.Revocations, ct, whole: response);
        }));
        return command;
    }

    private static Command Unblock(CommonOptions common)
    {
        var pattern = new Argument<string>("agent") { Description = "The exact pattern that was blocked." };
        var reason = new Option<string>("--reason") { Description = "Why (kept in the audit log).", Required = true };
        var command = new Command("unblock", "Lift a block for new requests; never revives a revoked credential (exit 1 when there was none).") { pattern, reason };
        common.AddTo(command);
        command.SetAction((r, ct) => RunAdmin(common, r, async admin =>
        {
            var response = await admin.UnblockAsync(new UnblockAgentRequest { Pattern = r.GetValue(pattern)!, Reason = r.GetValue(reason)! }, ct);
            if (!Json(common, r, response))
            {
                Console.WriteLine(response.Removed ? "unblocked" : "no such block");
            }

            return response.Removed ? ExitCodes.Ok : ExitCodes.Negative;
        }));
        return command;
    }

    private static Command Blocks(CommonOptions common)
    {
        var command = new Command("blocks", "List blocked agents and patterns.");
        common.AddTo(command);
        command.SetAction((r, ct) => RunAdmin(common, r, async admin =>
        {
            var response = await admin.ListBlocksAsync(ct);
            if (!Json(common, r, response))
            {
                Table.PrintRows(["PATTERN", "BLOCKED BY", "SINCE", "UNTIL", "REASON"], response.Blocks.Select(b => new[]
                {
                    b.Pattern, b.BlockedBy, b.BlockedAt.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture),
                    b.ExpiresAt is { } end ? end.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture) : "unblocked by an operator", b.Reason,
                }));
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Approvals(CommonOptions common)
    {
        var list = new Command("list", "Pending approvals, oldest first.");
        common.AddTo(list);
        list.SetAction((r, ct) => RunAdmin(common, r, async admin =>
        {
            var response = await admin.ListApprovalsAsync(100, ct);
            if (!Json(common, r, response))
            {
                Table.PrintRows(["APPROVAL", "AGENT", "ACTION", "TASK", "EXPIRES"], response.Approvals.Select(a => new[]
                {
                    a.ApprovalId, a.AgentId, a.Action, a.TaskId, a.ExpiresAt.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture),
                }));
            }

            return ExitCodes.Ok;
        }));

        var id = new Argument<string>("approval-id");
        var show = new Command("show", "The canonical request an approver decides on.") { id };
        common.AddTo(show);
        show.SetAction((r, ct) => RunAdmin(common, r, async admin => PrintApproval(common, r, await admin.GetApprovalAsync(r.GetValue(id)!, ct))));

        var root = new Command("approvals", "Step-up approvals: list, show, approve, deny.") { list, show, Decide(common, "approve", true), Decide(common, "deny", false) };
        return root;
    }

    private static Command Decide(CommonOptions common, string name, bool approve)
    {
        var id = new Argument<string>("approval-id");
        var reason = new Option<string>("--reason") { Description = "Why (kept in the audit log, shown to the agent on denial).", DefaultValueFactory = _ => "" };
        var command = new Command(name, approve ? "Approve a pending request." : "Deny a pending request.") { id, reason };
        common.AddTo(command);
        command.SetAction((r, ct) => RunAdmin(common, r, async admin =>
            PrintApproval(common, r, await admin.DecideApprovalAsync(r.GetValue(id)!, approve, r.GetValue(reason)!, ct))));
        return command;
    }

    private static int PrintApproval(CommonOptions common, ParseResult r, ApprovalInfo a)
    {
        if (!Json(common, r, a))
        {
            Table.Print(("approval", a.ApprovalId), ("state", a.State), ("agent", a.AgentId), ("task", a.TaskId), ("action", a.Action),
                ("purpose", a.Purpose), ("tools", string.Join(", ", a.Tools)), ("resources", string.Join(", ", a.Resources)),
                ("audience", a.Audience), ("kind", a.CredentialKind), ("ttl", $"{a.TtlSeconds}s"), ("rules", string.Join(", ", a.RuleIds)),
                ("approvers", string.Join(", ", a.Approvers)), ("expires", a.ExpiresAt.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture)),
                ("decided by", a.DecidedBy), ("request hash", a.RequestHash));
        }

        return ExitCodes.Ok;
    }

    /// <summary>
    /// Prints what was scheduled; with --wait polls the batch's progress (a bar on a terminal) until every lease is
    /// revoked or the wait times out. Exit 0 when done (or not waiting), 1 when the wait ended with leases still pending.
    /// </summary>
    private static async Task<int> FollowAsync(CommonOptions common, ParseResult r, AdminClient admin, WaitOptions wait, RevokeLeasesResponse response,
        CancellationToken ct, IMessage? whole = null)
    {
        var json = r.GetValue(common.Json);
        if (!json)
        {
            Console.WriteLine($"{response.Matched} matched: {response.Scheduled} scheduled for revocation, {response.InProgress} already being revoked, " +
                $"{response.AlreadyRevoked} already revoked (revocation {response.RevocationId})");
        }

        if (!r.GetValue(wait.Wait))
        {
            if (json)
            {
                Console.WriteLine(JsonFormatter.Default.Format(whole ?? response));
            }

            return ExitCodes.Ok;
        }

        var progress = await RevocationWatch.UntilDoneAsync(admin, response.RevocationId, r.GetValue(wait.Timeout), ct);
        if (json)
        {
            Console.WriteLine(JsonFormatter.Default.Format(progress));
        }
        else
        {
            Console.WriteLine(progress.Done
                ? $"all {progress.Total} revoked"
                : $"{progress.Revoked}/{progress.Total} revoked, {progress.Failing} failing; the rest stay scheduled and are retried until revoked");
        }

        return progress.Done ? ExitCodes.Ok : ExitCodes.OtherError;
    }

    internal static bool Json(CommonOptions common, ParseResult r, IMessage message)
    {
        if (!r.GetValue(common.Json))
        {
            return false;
        }

        Console.WriteLine(JsonFormatter.Default.Format(message));
        return true;
    }

    internal static async Task<int> RunAdmin(CommonOptions common, ParseResult result, Func<AdminClient, Task<int>> call)
    {
        try
        {
            using var admin = common.CreateAdminClient(result);
            return await call(admin);
        }
        catch (UsageException ex)
        {
            await Console.Error.WriteLineAsync("error: " + ex.Message);
            return ExitCodes.Usage;
        }
        catch (RpcException ex)
        {
            await Console.Error.WriteLineAsync($"error: {StatusNames.Of(ex.StatusCode)}: {ex.Status.Detail}");
            return ExitCodes.From(ex.StatusCode);
        }
    }
}

/// <summary>A spinner with elapsed time on stderr while a long call runs (only on a terminal: scripts get clean output).</summary>
internal static class Progress
{
    public static async Task<T> WhileAsync<T>(string label, Task<T> work)
    {
        if (Console.IsErrorRedirected)
        {
            return await work;
        }

        var frames = "|/-\\";
        var started = TimeProvider.System.GetTimestamp();
        for (var i = 0; !work.IsCompleted; i++)
        {
            Console.Error.Write($"\r{frames[i % 4]} {label}… {TimeProvider.System.GetElapsedTime(started).TotalSeconds:0.0}s");
            await Task.WhenAny(work, Task.Delay(100));
        }

        Console.Error.Write("\r" + new string(' ', label.Length + 20) + "\r");
        return await work;
    }
}
