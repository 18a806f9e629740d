using JitBroker.Policy.Model;
using YamlDotNet.RepresentationModel;
using JitBroker.Core;

namespace JitBroker.Policy.Parsing;

/// <summary>Reads and validates one entry of <c>delegations</c> (format in docs/policy.md, "Delegation").</summary>
internal static class DelegationReader
{
    private static readonly string[] Keys = ["id", "description", "from", "to", "actions", "max_depth"];

    public static DelegationRule Read(PolicyErrors errors, YamlNode node, int index, Dictionary<string, SourcePosition> seenIds)
    {
        var entry = YamlMapping.Of(errors, node, $"delegations[{index}]");
        var idNode = entry.Require("id", $"delegations[{index}]");
        var id = RuleReader.ReadRuleId(errors, idNode, "delegation id");
        if (seenIds.TryGetValue(id, out var first))
        {
            // One id space with the rules: a decision's rule ids name either, and audit records must stay unambiguous.
            var where = first.Source == errors.SourceName ? $"line {first.Line}" : $"{first.Source}:{first.Line}";
            throw errors.At(idNode, $"duplicate id '{id}': rules and delegations share one id space (first defined at {where})");
        }

        var position = errors.PositionOf(node);
        seenIds.Add(id, position);

        var owner = $"delegation '{id}'";
        entry.RejectUnknownKeys(owner, Keys);
        var description = entry.TryGet("description", out var descriptionNode)
            ? RuleReader.ReadText(errors, descriptionNode, $"{owner}: description", RuleReader.MaxDescriptionLength, singleLine: false)
            : null;
        var from = PrincipalReader.Read(errors, entry.Require("from", owner), owner, "from");
        var to = ReadWorkers(errors, entry.Require("to", owner), $"{owner}: to");
        var actions = RuleReader.ReadGlobs(errors, entry.Require("actions", owner), $"{owner}: actions", RuleReader.IdGlobChars, allowEmpty: false);
        var maxDepth = entry.TryGet("max_depth", out var depthNode)
            ? YamlNodes.ReadInt(errors, depthNode, $"{owner}: max_depth", 1, DelegationRule.DepthLimit)
            : DelegationRule.DefaultMaxDepth;
        return new DelegationRule(id, description, from, to, actions, maxDepth, position);
    }

    // Worker ids are SPIFFE IDs or "<issuer>#<subject>". Either way the trust root must be spelled out: "**" would
    // let a planner hand its grant to any identity the broker can attest, from any trust domain or issuer.
    private static GlobPattern[] ReadWorkers(PolicyErrors errors, YamlNode node, string field)
    {
        var entries = YamlNodes.ReadStringList(errors, node, field);
        if (entries.Count is 0 or > PrincipalReader.MaxEntries)
        {
            throw errors.At(node, $"{field} must name 1-{PrincipalReader.MaxEntries} worker id patterns");
        }

        var globs = new GlobPattern[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            var (text, entryNode) = entries[i];
            globs[i] = WorkerPatternProblem(text) is { } problem ? throw errors.At(entryNode, $"{field}: {problem}") : GlobPattern.Parse(text);
        }

        return globs;
    }

    private static string? WorkerPatternProblem(string text)
    {
        if (!GlobPattern.TryParse(text, out _, out var problem))
        {
            return problem;
        }

        if (text.StartsWith("spiffe://", StringComparison.Ordinal))
        {
            // A literal, lowercase trust domain: spiffe://corp*/… would also match spiffe://corp.attacker.example/….
            return SpiffeIdPattern.TryParse(text, out _, out var spiffeProblem) ? null : spiffeProblem;
        }

        return GlobPattern.AnchorProblem(text) is null ? null
            : $"'{text}' must be a SPIFFE ID pattern (spiffe://<trust-domain>/<path glob>) or an OIDC worker id pattern " +
              "(<issuer>#<subject glob>, with a literal scheme://authority)";
    }
}
