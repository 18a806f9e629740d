namespace JitBroker.WebConsole.Operations;

/// <summary>
/// The operations pages' routes (a contract like <see cref="ConsolePaths"/>). Agent and task ids may hold '/' (SPIFFE ids):
/// links escape it as %2F, which Kestrel leaves encoded in the path; <see cref="IdFromRoute"/> restores it.
/// </summary>
public static class OperationsPaths
{
    public const string Leases = ConsolePaths.Base + "/leases";
    public const string Blocks = ConsolePaths.Base + "/blocks";
    public const string Agents = ConsolePaths.Base + "/agents";
    public const string Tasks = ConsolePaths.Base + "/tasks";

    public static string Block(string operationId) => Blocks + "/" + Uri.EscapeDataString(operationId);

    public static string Agent(string agentId) => Agents + "/" + Uri.EscapeDataString(agentId);

    public static string Task(string taskId, string? agentId = null) =>
        Tasks + "/" + Uri.EscapeDataString(taskId) + (agentId is null ? "" : "?agent=" + Uri.EscapeDataString(agentId));

    /// <summary>A catch-all route value as the id it was made from: Kestrel decodes every escape in a path but %2F.</summary>
    public static string IdFromRoute(string? value) =>
        (value ?? "").Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
}
