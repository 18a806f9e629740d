namespace JitBroker.Examples.McpTickets;

/// <summary>Where the server's own workload identity (a JWT-SVID addressed to the broker's issuer) comes from.</summary>
internal static class WorkloadTokenSource
{
    /// <summary>
    /// The file is read at every use: SVIDs are short-lived and rotated by whatever writes the file (spiffe-helper, the
    /// demo's <c>jitctl dev-svid</c>). Neither set → no workload identity: introspection and use reports then fail closed.
    /// </summary>
    public static Func<CancellationToken, Task<string>>? From(string? file, string? literal)
    {
        if (!string.IsNullOrWhiteSpace(file))
        {
            return async cancellationToken => (await File.ReadAllTextAsync(file, cancellationToken)).Trim();
        }

        return string.IsNullOrWhiteSpace(literal) ? null : _ => Task.FromResult(literal.Trim());
    }
}
