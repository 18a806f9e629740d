using JitBroker.Core;
using JitBroker.Policy.Conditions;
using JitBroker.Policy.Evaluation;
using JitBroker.Policy.Loading;
using JitBroker.Policy.Model;
using JitBroker.Policy.Parsing;

namespace JitBroker.Policy;

/// <summary>
/// Decides credential requests against a policy written as YAML — one file, or every <c>*.yaml</c>/<c>*.yml</c>
/// file directly in a directory (see <c>docs/policy.md</c>). Default deny. A decision is computed as follows,
/// and every decision carries the rule ids behind it and a reason fit to show the caller:
/// <list type="number">
/// <item>A rule <em>applies</em> when its <c>principals</c> match the agent (every selector given; any entry of
/// each), one of its <c>actions</c> matches <see cref="TaskIntent.Action"/>, and its <c>conditions</c> hold.</item>
/// <item>If any applying rule is a deny rule, the first such rule in policy order decides: Deny, with its
/// <c>reason</c>. Deny wins wherever it stands. A deny's condition that cannot be evaluated (missing key, value
/// of the wrong type) counts as holding: a request cannot dodge a deny by leaving a value out.</item>
/// <item>Otherwise the first applying allow rule in policy order whose credential targets contain
/// <see cref="CredentialRequest.Target"/> (exactly), whose kind equals <see cref="CredentialRequest.CredentialKind"/>,
/// whose purpose requirement the request meets, and whose every condition is met, is chosen. No such rule: Deny
/// with no rule ids.</item>
/// <item>The grant is the chosen rule's view of the request: requested ∩ allowed tools and resources, TTL =
/// min(requested, credential.max_ttl, defaults.max_ttl), the template's issuer parameters. A rule with
/// <c>approval</c> yields <see cref="DecisionEffect.NeedsApproval"/> with that grant and the requirement.</item>
/// </list>
/// Policy order is: files in ordinal order of file name, rules in file order. Everything is compiled at load;
/// <see cref="Decide"/> does no parsing, takes no locks and is safe to call concurrently. An instance is
/// immutable: reloading means loading a new engine (see <see cref="ReloadingPolicyEngine"/>). The same engine answers
/// delegation questions from the policy's <c>delegations</c> (<see cref="IDelegationPolicy"/>, YamlPolicyEngine.Delegation.cs).
/// </summary>
public sealed partial class YamlPolicyEngine : IPolicyEngine, IPolicyIntentInputs
{
    /// <summary>Largest policy file accepted, in bytes for files and characters for <see cref="Parse"/>.</summary>
    public const int MaxPolicySize = 4 * 1024 * 1024;

    private readonly RuleIndex _index;
    private readonly TimeProvider _time;

    private YamlPolicyEngine(PolicySourceContent content, IReadOnlyList<PolicyDocument> documents, TimeProvider time)
    {
        Rules = [.. documents.SelectMany(d => d.Rules.Select(rule => new CompiledRule(rule, d.Defaults)))];
        _index = new RuleIndex(Rules);
        IntentInputs = RuleInputs.Of(Rules);
        Delegations = [.. documents.SelectMany(d => d.Delegations.Select(entry => new CompiledDelegation(entry)))];
        _time = time;
        SourceName = content.RootPath;
        SourceFiles = [.. content.Files.Select(f => f.Path)];
        ContentHash = content.ContentHash;
    }

    /// <summary>Number of credential rules over all files (delegation entries: <see cref="DelegationCount"/>).</summary>
    public int RuleCount => Rules.Count;

    /// <summary>Where the policy came from: the file or directory path, or the name given to <see cref="Parse"/>.</summary>
    public string SourceName { get; }

    /// <summary>The files read, in policy order.</summary>
    public IReadOnlyList<string> SourceFiles { get; }

    /// <summary><c>sha256:&lt;hex&gt;</c> over the names and contents of the files read: equal hashes, equal policy.</summary>
    public string ContentHash { get; }

    /// <inheritdoc />
    public IntentInputs IntentInputs { get; }

    /// <summary>Rules in policy order, for explanations and tests.</summary>
    internal IReadOnlyList<CompiledRule> Rules { get; }

    /// <summary>The clock time conditions read.</summary>
    internal TimeProvider TimeProvider => _time;

    /// <summary>
    /// Loads a policy file, or every policy file directly in a directory (see <c>docs/policy.md</c>). Throws
    /// <see cref="PolicyLoadException"/> naming file, line and column for any problem (line 0 when the file
    /// cannot be read). <paramref name="timeProvider"/> is the clock of time conditions (default: system).
    /// </summary>
    /// <param name="requireOwners">Refuse a policy with an allow rule that names no <c>owner</c> (the production profile).</param>
    public static YamlPolicyEngine Load(string path, TimeProvider? timeProvider = null, bool requireOwners = false) =>
        FromContent(PolicySource.Read(path), timeProvider, requireOwners);

    /// <summary>Reads and validates one policy file (UTF-8). Same as <see cref="Load"/> for a file path.</summary>
    public static YamlPolicyEngine LoadFile(string path, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Directory.Exists(path)
            ? throw new PolicyLoadException(path, 0, 0, "is a directory; load it with LoadDirectory")
            : Load(path, timeProvider);
    }

    /// <summary>Reads and validates every policy file directly in <paramref name="directory"/>, merged into one policy.</summary>
    public static YamlPolicyEngine LoadDirectory(string directory, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        return Directory.Exists(directory)
            ? Load(directory, timeProvider)
            : throw new PolicyLoadException(directory, 0, 0, "cannot read the policy directory: it does not exist");
    }

    /// <summary>
    /// Parses and validates policy text. <paramref name="sourceName"/> names it in errors and is kept as
    /// <see cref="SourceName"/>. Throws <see cref="PolicyLoadException"/> at the first problem.
    /// </summary>
    public static YamlPolicyEngine Parse(string yaml, string sourceName, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentException.ThrowIfNullOrEmpty(sourceName);
        if (yaml.Length > MaxPolicySize)
        {
            throw new PolicyLoadException(sourceName, 0, 0, $"the policy is larger than {MaxPolicySize} characters");
        }

        return FromContent(PolicySource.FromText(yaml, sourceName), timeProvider);
    }

    internal static YamlPolicyEngine FromContent(PolicySourceContent content, TimeProvider? timeProvider, bool requireOwners = false)
    {
        // One id dictionary over all files: rule ids are unique across the whole policy.
        var seenIds = new Dictionary<string, SourcePosition>(StringComparer.Ordinal);
        var documents = content.Files.Select(f => PolicyDocumentReader.Read(f.Text, f.Path, seenIds)).ToList();
        if (requireOwners && documents.SelectMany(d => d.Rules).FirstOrDefault(r => r.Effect == RuleEffect.Allow && r.Owner is null) is { } orphan)
        {
            // Every privileged workflow has a person accountable for it: a grant nobody answers for does not load.
            throw new PolicyLoadException(orphan.Position.Source, orphan.Position.Line, orphan.Position.Column,
                $"rule '{orphan.Id}' is an allow rule without 'owner'; the production profile requires an accountable owner on every allow rule");
        }

        return new YamlPolicyEngine(content, documents, timeProvider ?? TimeProvider.System);
    }

    /// <inheritdoc />
    public PolicyDecision Decide(WorkloadIdentity agent, CredentialRequest request) => Decide(agent, request, _time);

    /// <summary>Decides with another clock: the policy test runner pins each case's instant.</summary>
    internal PolicyDecision Decide(WorkloadIdentity agent, CredentialRequest request, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(agent);
        ArgumentNullException.ThrowIfNull(request);
        var action = request.Intent.Action;

        // The broker's request validation already forbids this; repeated here because the granted action is
        // copied into the credential, where a pattern would widen it.
        if (!GrantBuilder.IsConcrete(action))
        {
            return PolicyDecision.Deny($"action '{action}' is not a concrete action name");
        }

        var input = new DecisionInput(agent, request, time);
        var progress = new Progress();
        CompiledRule? chosen = null;

        // Only rules written for the agent's trust domain and the action's first segment; see RuleIndex.
        foreach (var rule in _index.For(agent.TrustDomain, action))
        {
            // Once an allow rule is chosen only deny rules can still change the outcome.
            if (chosen is not null && !rule.IsDeny)
            {
                continue;
            }

            if (!rule.MatchesAction(action) || !rule.MatchesPrincipal(agent))
            {
                continue;
            }

            if (rule.IsDeny)
            {
                if (rule.DenyConditionsApply(ref input))
                {
                    return rule.DenyDecision!;
                }

                continue;
            }

            if (IsChosen(rule, request, ref input, ref progress))
            {
                chosen = rule;
            }
        }

        return chosen is null ? NoRuleAllows(agent, request, progress) : GrantBuilder.Build(chosen, request);
    }

    private static bool IsChosen(CompiledRule rule, CredentialRequest request, ref DecisionInput input, ref Progress progress)
    {
        progress.ActionMatched = true;
        if (!rule.AllowsTarget(request.Target))
        {
            return false;
        }

        progress.TargetMatched = true;
        if (!rule.AllowsKind(request.CredentialKind))
        {
            return false;
        }

        progress.KindMatched = true;
        if (!rule.SatisfiesPurpose(request.Intent.Purpose))
        {
            progress.PurposeRequired = Math.Max(progress.PurposeRequired, rule.PurposeMinLength);
            return false;
        }

        if (!rule.AllowConditionsMet(ref input))
        {
            progress.ConditionsFailed = true;
            return false;
        }

        return true;
    }

    // Says how far the request got without revealing what the policy does allow.
    private static PolicyDecision NoRuleAllows(WorkloadIdentity agent, CredentialRequest request, Progress progress)
    {
        var action = request.Intent.Action;
        var prefix = $"no rule allows action '{action}' for audience '{request.Target}'";
        if (!progress.KindMatched)
        {
            return PolicyDecision.Deny(
                progress.TargetMatched ? $"{prefix} with credential kind '{request.CredentialKind}'"
                : progress.ActionMatched ? prefix
                : $"no rule allows agent '{agent.Id}' to perform action '{action}'") with { AudienceNotAllowed = progress.ActionMatched && !progress.TargetMatched };
        }

        var missing = new List<string>(2);
        if (progress.PurposeRequired > 0)
        {
            missing.Add(progress.PurposeRequired == 1
                ? "a stated purpose is required"
                : $"a stated purpose of at least {progress.PurposeRequired} characters is required");
        }

        if (progress.ConditionsFailed)
        {
            missing.Add("the conditions of the matching rules are not met");
        }

        return PolicyDecision.Deny($"{prefix} with credential kind '{request.CredentialKind}': {string.Join("; ", missing)}");
    }

    /// <summary>How far the best allow rule got, for the default deny's reason.</summary>
    private struct Progress
    {
        public bool ActionMatched;
        public bool TargetMatched;
        public bool KindMatched;
        public int PurposeRequired;
        public bool ConditionsFailed;
    }
}
