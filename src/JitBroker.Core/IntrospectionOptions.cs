namespace JitBroker.Core;

/// <summary>
/// Who may ask IntrospectCredential about any task credential: attested resource servers (tools, relying parties)
/// matching one of <see cref="ResourceServers"/>. Anyone else may introspect only a credential issued to itself.
/// </summary>
public sealed class IntrospectionOptions
{
    public List<string> ResourceServers { get; set; } = [];

    public IEnumerable<string> Validate()
    {
        foreach (var p in ResourceServers)
        {
            // The same anchoring rule as approvers and admin principals: '*', '**' or 'https://*.example/…' would let
            // every agent scan every other agent's tokens.
            if ((GlobPattern.TryParse(p, out _, out var error) ? GlobPattern.AnchorProblem(p) : error) is { } problem)
            {
                yield return $"Introspection:ResourceServers '{p}': {problem}.";
            }
        }
    }
}
