using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using JitBroker.Protocol.V1;

namespace JitBroker.Cli;

/// <summary>
/// <c>jitctl agents</c>: the agents that hold active leases now, each with its tasks and the people accountable for them
/// (the owners of the rules that granted the leases). Derived from the admin API's ListLeases (state active, every page),
/// so it needs no API of its own and shows exactly what <c>jitctl leases</c> would, grouped by agent.
/// </summary>
internal static class AgentCommands
{
    public const int DefaultMaxLeases = 100_000;
    private const int PageSize = 500;
    private static readonly JsonSerializerOptions JsonOut = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    public static Command Agents(CommonOptions common)
    {
        var maxLeases = new Option<int>("--max-leases")
        {
            Description = "Stop reading after this many active leases (the list then says it is partial).",
            DefaultValueFactory = _ => DefaultMaxLeases,
        };
        var command = new Command("agents", "List agents with active leases and their accountable owners (from ListLeases).") { maxLeases };
        common.AddTo(command);
        command.SetAction((r, ct) => AdminCommands.RunAdmin(common, r, async admin =>
        {
            var cap = r.GetValue(maxLeases);
            if (cap < 1)
            {
                throw new UsageException("--max-leases must be at least 1.");
            }

            var leases = new List<LeaseInfo>();
            var token = "";
            do
            {
                var page = await admin.ListLeasesAsync(new ListLeasesRequest { State = "active", PageSize = PageSize, PageToken = token }, ct);
                leases.AddRange(page.Leases);
                token = page.NextPageToken;
            }
            while (token.Length > 0 && leases.Count < cap);

            var partial = token.Length > 0;
            var agents = Summarise(leases);
            if (r.GetValue(common.Json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new { agents, partial }, JsonOut));
                return ExitCodes.Ok;
            }

            Table.PrintRows(["AGENT", "ACTIVE LEASES", "TASKS", "OWNERS", "NEXT EXPIRY"], agents.Select(a => new[]
            {
                a.AgentId, a.ActiveLeases.ToString(CultureInfo.InvariantCulture), string.Join(",", a.Tasks),
                a.Owners.Count == 0 ? "(none)" : string.Join(",", a.Owners), a.ExpiresNext.ToString("u", CultureInfo.InvariantCulture),
            }));
            if (partial)
            {
                Console.WriteLine($"partial: stopped after {leases.Count} active leases (--max-leases)");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    internal static List<AgentSummary> Summarise(IEnumerable<LeaseInfo> leases) =>
    [
        .. leases.GroupBy(l => l.AgentId, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => new AgentSummary(
            g.Key,
            g.Count(),
            [.. g.Select(l => l.TaskId).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
            [.. g.Select(l => l.Owner).Where(o => o.Length > 0).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
            g.Min(l => l.ExpiresAt.ToDateTimeOffset()))),
    ];

    internal sealed record AgentSummary(string AgentId, int ActiveLeases, IReadOnlyList<string> Tasks, IReadOnlyList<string> Owners, DateTimeOffset ExpiresNext);
}
