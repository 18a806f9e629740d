using System.Buffers;
using JitBroker.Core;
using JitBroker.Policy.Conditions;
using JitBroker.Policy.Model;
using YamlDotNet.RepresentationModel;

namespace JitBroker.Policy.Parsing;

/// <summary>Reads and validates one entry of <c>rules</c>.</summary>
internal static class RuleReader
{
    public const int MaxIdLength = 64;
    public const int MaxDescriptionLength = 1024;
    public const int MaxReasonLength = 512;

    public const int MaxApprovers = 32;
    public const int MaxOwnerLength = 256;

    private static readonly string[] RuleKeys =
    [
        "id", "description", "effect", "principals", "actions", "tools", "resources",
        "require_purpose", "purpose_min_length", "conditions", "credential", "approval", "reason", "quota", "owner",
    ];

    private static readonly string[] AllowOnlyKeys = ["tools", "resources", "require_purpose", "purpose_min_length", "credential", "approval", "quota"];
    private static readonly string[] ApprovalKeys = ["approvers", "timeout"];

    private static readonly SearchValues<char> RuleIdChars = SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789-_.");

    // Actions and tools are ids in requests (CredentialRequestValidator); a pattern with any other character
    // could never match, so it is a typo and fails the load.
    internal static readonly SearchValues<char> IdGlobChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@*?");

    public static PolicyRule Read(
        PolicyErrors errors, YamlNode node, int index, PolicyDefaults defaults, Dictionary<string, SourcePosition> seenIds)
    {
        var rule = YamlMapping.Of(errors, node, $"rules[{index}]");
        var idNode = rule.Require("id", $"rules[{index}]");
        var id = ReadRuleId(errors, idNode);
        if (seenIds.TryGetValue(id, out var first))
        {
            // Rule ids are unique across every file of a policy: audit records and tests name rules by id alone.
            var where = first.Source == errors.SourceName ? $"line {first.Line}" : $"{first.Source}:{first.Line}";
            throw errors.At(idNode, $"duplicate rule id '{id}' (first defined at {where})");
        }

        var position = errors.PositionOf(node);
        seenIds.Add(id, position);

        var owner = $"rule '{id}'";
        rule.RejectUnknownKeys(owner, RuleKeys);
        var effect = ReadEffect(errors, rule.Require("effect", owner), owner);
        RejectKeysOfTheOtherEffect(errors, rule, effect, owner);

        var description = rule.TryGet("description", out var descriptionNode)
            ? ReadText(errors, descriptionNode, $"{owner}: description", MaxDescriptionLength, singleLine: false)
            : null;
        var reason = rule.TryGet("reason", out var reasonNode)
            ? ReadText(errors, reasonNode, $"{owner}: reason", MaxReasonLength, singleLine: true)
            : null;

        var principals = PrincipalReader.Read(errors, rule.Require("principals", owner), owner);
        var actions = ReadGlobs(errors, rule.Require("actions", owner), $"{owner}: actions", IdGlobChars, allowEmpty: false);
        var tools = rule.TryGet("tools", out var toolsNode)
            ? ReadGlobs(errors, toolsNode, $"{owner}: tools", IdGlobChars, allowEmpty: true)
            : [];
        var resources = rule.TryGet("resources", out var resourcesNode)
            ? ReadGlobs(errors, resourcesNode, $"{owner}: resources", allowedChars: null, allowEmpty: true)
            : [];

        var conditions = rule.TryGet("conditions", out var conditionsNode)
            ? ConditionReader.Read(errors, conditionsNode, owner)
            : ConditionSet.None;

        CredentialTemplate? credential = null;
        ApprovalTemplate? approval = null;
        PurposeRequirement? purpose = null;
        if (effect == RuleEffect.Allow)
        {
            var credentialNode = rule.TryGet("credential", out var found)
                ? found
                : throw errors.At(node, $"{owner} is an allow rule and needs 'credential' with at least one audience");
            credential = CredentialReader.Read(errors, credentialNode, owner, defaults);
            purpose = ReadPurpose(errors, rule, owner);
            approval = rule.TryGet("approval", out var approvalNode) ? ReadApproval(errors, approvalNode, owner) : null;
        }

        var quota = rule.TryGet("quota", out var quotaNode) ? QuotaReader.Read(errors, quotaNode, owner) : null;
        // A person (an e-mail address, a team alias): shown to operators and auditors, so one printable line.
        var accountable = rule.TryGet("owner", out var ownerNode)
            ? ReadText(errors, ownerNode, $"{owner}: owner", MaxOwnerLength, singleLine: true)
            : null;
        return new PolicyRule(id, description, effect, principals, actions, tools, resources, purpose, conditions, credential, approval, reason, position)
        {
            Quota = quota,
            Owner = accountable,
        };
    }

    private static PurposeRequirement? ReadPurpose(PolicyErrors errors, YamlMapping rule, string owner)
    {
        bool? required = rule.TryGet("require_purpose", out var requiredNode)
            ? YamlNodes.ReadBool(errors, requiredNode, $"{owner}: require_purpose")
            : null;
        if (!rule.TryGet("purpose_min_length", out var minNode))
        {
            return required == true ? new PurposeRequirement(1) : null;
        }

        var min = YamlNodes.ReadInt(errors, minNode, $"{owner}: purpose_min_length", 1, CredentialRequestValidator.MaxPurposeLength);
        return required == false
            ? throw errors.At(rule.KeyNode("purpose_min_length")!, $"{owner}: purpose_min_length contradicts require_purpose: false")
            : new PurposeRequirement(min);
    }

    private static ApprovalTemplate ReadApproval(PolicyErrors errors, YamlNode node, string owner)
    {
        var field = $"{owner}: approval";
        var approval = YamlMapping.Of(errors, node, field);
        approval.RejectUnknownKeys($"{owner} approval", ApprovalKeys);

        var approversNode = approval.Require("approvers", field);
        var entries = YamlNodes.ReadStringList(errors, approversNode, $"{field}.approvers");
        if (entries.Count is 0 or > MaxApprovers)
        {
            throw errors.At(approversNode, $"{field}.approvers must name 1-{MaxApprovers} approver patterns");
        }

        var approvers = new List<GlobPattern>(entries.Count);
        foreach (var (text, entryNode) in entries)
        {
            // Approvers are admin principals (SPIFFE IDs, issuer#subject): anchored like issuers, so "**" cannot
            // make every authenticated caller, the requesting agent included, an approver.
            if (!GlobPattern.TryParse(text, out var glob, out var problem) || GlobPattern.AnchorProblem(text) is not null)
            {
                throw errors.At(entryNode, $"{field}.approvers: {problem ?? GlobPattern.AnchorProblem(text)}");
            }

            approvers.Add(glob);
        }

        var timeoutNode = approval.Require("timeout", field);
        var timeoutField = $"{field}.timeout";
        return PolicyDuration.TryParse(YamlNodes.ReadString(errors, timeoutNode, timeoutField), timeoutField, out var timeout, out var durationProblem)
            ? new ApprovalTemplate(approvers, timeout)
            : throw errors.At(timeoutNode, durationProblem!);
    }

    /// <summary>An id of a rule or delegation (<paramref name="what"/> names which in errors).</summary>
    internal static string ReadRuleId(PolicyErrors errors, YamlNode node, string what = "rule id")
    {
        var id = YamlNodes.ReadString(errors, node, what);
        if (id.Length is 0 or > MaxIdLength || id.AsSpan().IndexOfAnyExcept(RuleIdChars) >= 0)
        {
            throw errors.At(node, $"{what} '{id}' must be 1-{MaxIdLength} characters of a-z 0-9 - _ .");
        }

        return id;
    }

    private static RuleEffect ReadEffect(PolicyErrors errors, YamlNode node, string owner) =>
        YamlNodes.ReadString(errors, node, $"{owner}: effect") switch
        {
            "allow" => RuleEffect.Allow,
            "deny" => RuleEffect.Deny,
            var other => throw errors.At(node, $"{owner}: effect must be 'allow' or 'deny', not '{other}'"),
        };

    private static void RejectKeysOfTheOtherEffect(PolicyErrors errors, YamlMapping rule, RuleEffect effect, string owner)
    {
        if (effect == RuleEffect.Deny)
        {
            // A deny rule narrowed by tools or audiences would read as narrower than it is; refuse the illusion.
            // (Deny rules may carry conditions: those narrow when the deny applies, and read that way.)
            foreach (var key in AllowOnlyKeys)
            {
                if (rule.KeyNode(key) is { } keyNode)
                {
                    throw errors.At(keyNode, $"{owner}: '{key}' applies only to allow rules; a deny rule matches on principals and actions");
                }
            }
        }
        else if (rule.KeyNode("reason") is { } reasonKey)
        {
            throw errors.At(reasonKey, $"{owner}: 'reason' applies only to deny rules; an allow decision names its rule");
        }
    }

    internal static string ReadText(PolicyErrors errors, YamlNode node, string field, int maxLength, bool singleLine)
    {
        var text = YamlNodes.ReadString(errors, node, field);
        var badChar = text.Any(c => char.IsControl(c) && (singleLine || c is not ('\n' or '\t')));
        if (text.Length is 0 || text.Length > maxLength || badChar)
        {
            throw errors.At(node, singleLine
                ? $"{field} must be one line of 1-{maxLength} printable characters"
                : $"{field} must be 1-{maxLength} printable characters");
        }

        return text;
    }

    internal static GlobPattern[] ReadGlobs(PolicyErrors errors, YamlNode node, string field, SearchValues<char>? allowedChars, bool allowEmpty)
    {
        var entries = YamlNodes.ReadStringList(errors, node, field);
        if (entries.Count == 0 && !allowEmpty)
        {
            throw errors.At(node, $"{field} must name at least one pattern");
        }

        var globs = new GlobPattern[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            var (text, entryNode) = entries[i];
            if (!GlobPattern.TryParse(text, out var glob, out var problem))
            {
                throw errors.At(entryNode, $"{field}: {problem}");
            }

            if (allowedChars is not null && text.AsSpan().IndexOfAnyExcept(allowedChars) >= 0)
            {
                throw errors.At(entryNode, $"{field}: '{text}' may contain only A-Z a-z 0-9 - _ . : / @ and the wildcards * ** ?");
            }

            globs[i] = glob;
        }

        return globs;
    }
}
