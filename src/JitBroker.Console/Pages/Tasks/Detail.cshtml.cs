using System.Text.Json.Nodes;
using JitBroker.Audit;
using JitBroker.Core;
using JitBroker.WebConsole.Operations;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace JitBroker.WebConsole.Pages.Tasks;

/// <summary>
/// <c>/console/tasks/{taskId}</c>: the task's story from the audit chain — intent, decision, approvals, credentials, every use,
/// revocations, the end — after verifying the chain, through the same code as <c>jitctl audit trace</c>
/// (<see cref="AuditTrace"/>). As there, a chain that does not verify shows no story unless asked (<c>?unverified=true</c>);
/// <c>#chain-status[data-valid]</c> says which. <c>?agent=</c> keeps two agents' tasks of one name apart.
/// </summary>
public sealed class TaskModel(IAuditHistory audit) : OperatorPage
{
    [FromRoute(Name = "taskId")]
    public string? RouteId { get; set; }

    [BindProperty(SupportsGet = true, Name = "agent")]
    public string? AgentId { get; set; }

    [BindProperty(SupportsGet = true)]
    public bool Unverified { get; set; }

    public string TaskId { get; private set; } = "";

    public AuditVerificationResult? Verification { get; private set; }

    public JsonObject? Intent { get; private set; }

    public IReadOnlyList<AuditRow> Story { get; private set; } = [];

    /// <summary>The story is hidden because the chain does not verify and the reader did not ask for it anyway.</summary>
    public bool Withheld { get; private set; }

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        TaskId = OperationsPaths.IdFromRoute(RouteId);
        AgentId = string.IsNullOrWhiteSpace(AgentId) ? null : AgentId;
        if (TaskId.Length == 0)
        {
            return Refuse(StatusCodes.Status400BadRequest, Reasons.Console.InvalidInput, "Which task? The page is /console/tasks/{task id}.");
        }

        AuditTaskTrace trace;
        try
        {
            trace = await audit.TraceTaskAsync(TaskId, AgentId, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Refuse(StatusCodes.Status503ServiceUnavailable, Reasons.Audit.Unavailable, "The audit log cannot be read: " + ex.Message);
        }

        Verification = trace.Verification;
        if (trace.Story.Count == 0)
        {
            return Refuse(StatusCodes.Status404NotFound, Reasons.TaskNotFound, "No record of this task in the audit chain.");
        }

        Withheld = !trace.Verification.Ok && !Unverified;
        if (!Withheld)
        {
            Intent = AuditTrace.Intent(trace.Story);
            Story = [.. trace.Story.Select(AuditRow.Of)];
        }

        return Page();
    }

    public static string List(JsonNode? array) => array is JsonArray a && a.Count > 0 ? string.Join(", ", a.Select(v => v?.ToString())) : "(none)";
}
