namespace JitBroker.Core;

/// <summary>
/// Which attested tools may report credential uses (ReportUses), and for which audiences: a tool is the resource server
/// of the audiences its entry names, and a use is recorded only for one of those (<c>JitBroker:Tools</c>). Separate from
/// <see cref="IntrospectionOptions.ResourceServers"/>, which says who may introspect any credential, whatever its audience.
/// </summary>
public sealed class ToolUseOptions
{
    /// <summary>Longest audience accepted in settings and reports.</summary>
    public const int MaxAudienceLength = 512;

    public List<ToolResourceServer> ResourceServers { get; set; } = [];

    public IEnumerable<string> Validate()
    {
        for (var i = 0; i < ResourceServers.Count; i++)
        {
            var entry = ResourceServers[i];
            var at = $"Tools:ResourceServers:{i}";
            // Anchored like introspection's resource servers: '**' would let every agent write use records for every audience.
            if ((GlobPattern.TryParse(entry.Identity, out _, out var error) ? GlobPattern.AnchorProblem(entry.Identity) : error) is { } problem)
            {
                yield return $"{at}:Identity '{entry.Identity}': {problem}.";
            }

            if (entry.Audiences.Count == 0)
            {
                yield return $"{at}:Audiences must name at least one audience.";
            }

            foreach (var audience in entry.Audiences)
            {
                if (!IsAudience(audience))
                {
                    yield return $"{at}:Audiences '{audience}' must be 1-{MaxAudienceLength} characters without spaces or control characters.";
                }
            }
        }
    }

    /// <summary>The shape every audience has (policy targets are the same strings).</summary>
    public static bool IsAudience(string? audience) =>
        audience is { Length: > 0 and <= MaxAudienceLength } && !audience.Any(c => char.IsWhiteSpace(c) || char.IsControl(c));
}

/// <summary>One entry of <see cref="ToolUseOptions.ResourceServers"/>: an identity glob and the audiences it serves.</summary>
public sealed class ToolResourceServer
{
    public string Identity { get; set; } = "";

    public List<string> Audiences { get; set; } = [];
}
