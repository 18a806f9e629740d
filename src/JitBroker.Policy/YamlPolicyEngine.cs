using System.Text;
using JitBroker.Core;
using JitBroker.Policy.Evaluation;
using JitBroker.Policy.Model;
using JitBroker.Policy.Parsing;

namespace JitBroker.Policy;

/// <summary>
/// Decides credential requests against one YAML policy document (version 1; see <c>docs/policy.md</c>).
/// Default deny. A decision is computed as follows, and every decision carries the rule ids behind it
/// and a reason fit to show the caller:
/// <list type="number">
/// <item>A rule <em>applies</em> when one of its <c>principals.spiffe_ids</c> patterns matches the agent
/// (same trust domain, and <see cref="WorkloadIdentity.Id"/> matches the glob) and one of its
/// <c>actions</c> matches <see cref="TaskIntent.Action"/>.</item>
/// <item>If any applying rule is a deny rule, the first such rule in file order decides: Deny, with its
/// <c>reason</c> (or "denied by rule &lt;id&gt;"). Deny wins wherever it stands in the file.</item>
/// <item>Otherwise the first applying allow rule in file order whose <c>credential.audiences</c> contains
/// <see cref="CredentialRequest.Target"/> (exactly) and whose <c>credential.kind</c> equals
/// <see cref="CredentialRequest.CredentialKind"/> is chosen; later allow rules are not consulted, even if
/// they would grant more. No such rule: Deny with no rule ids.</item>
/// <item>The grant is the chosen rule's view of the request: tools and resources are the requested ones
/// that match the rule's patterns (requested ∩ allowed; requesting nothing grants nothing; a requested
/// value containing <c>*</c>, <c>?</c> or a <c>.</c>/<c>..</c> segment is never granted). If values were
/// requested in a category and none is granted, the decision is Deny; otherwise the dropped values are
/// named in the reason. TTL = min(requested, or the ceiling when unset; credential.max_ttl;
/// defaults.max_ttl).</item>
/// </list>
/// Everything is compiled at load; <see cref="Decide"/> does no parsing, takes no locks and is safe to call
/// concurrently. An instance is immutable: reloading means loading a new engine.
/// </summary>
public sealed class YamlPolicyEngine : IPolicyEngine
{
    /// <summary>Largest policy accepted, in bytes for files and characters for <see cref="Parse"/>.</summary>
    public const int MaxPolicySize = 4 * 1024 * 1024;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly RuleIndex _index;

    private YamlPolicyEngine(PolicyDocument document)
    {
        _index = new RuleIndex([.. document.Rules.Select(rule => new CompiledRule(rule, document.Defaults))]);
        RuleCount = document.Rules.Count;
        SourceName = document.SourceName;
    }

    /// <summary>Number of rules in the document.</summary>
    public int RuleCount { get; }

    /// <summary>Where the policy came from (file path or the name given to <see cref="Parse"/>).</summary>
    public string SourceName { get; }

    /// <summary>
    /// Reads and validates a policy file (UTF-8). Throws <see cref="PolicyLoadException"/> for any problem,
    /// including an unreadable file (then with <see cref="PolicyLoadException.Line"/> 0).
    /// </summary>
    public static YamlPolicyEngine LoadFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string yaml;
        try
        {
            if (new FileInfo(path).Length > MaxPolicySize)
            {
                throw new PolicyLoadException(path, 0, 0, $"the policy file is larger than {MaxPolicySize} bytes");
            }

            yaml = File.ReadAllText(path, StrictUtf8);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PolicyLoadException(path, 0, 0, $"cannot read the policy file: {ex.Message}", ex);
        }
        catch (DecoderFallbackException ex)
        {
            throw new PolicyLoadException(path, 0, 0, "the policy file is not valid UTF-8", ex);
        }

        return Parse(yaml, path);
    }

    /// <summary>
    /// Parses and validates policy text. <paramref name="sourceName"/> names it in errors and is kept as
    /// <see cref="SourceName"/>. Throws <see cref="PolicyLoadException"/> at the first problem.
    /// </summary>
    public static YamlPolicyEngine Parse(string yaml, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentException.ThrowIfNullOrEmpty(sourceName);
        if (yaml.Length > MaxPolicySize)
        {
            throw new PolicyLoadException(sourceName, 0, 0, $"the policy is larger than {MaxPolicySize} characters");
        }

        return new YamlPolicyEngine(PolicyDocumentReader.Read(yaml, sourceName));
    }

    /// <inheritdoc />
    public PolicyDecision Decide(WorkloadIdentity agent, CredentialRequest request)
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

        CompiledRule? chosen = null;
        bool actionMatched = false, audienceMatched = false;

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
                return rule.DenyDecision!;
            }

            actionMatched = true;
            if (!rule.AllowsAudience(request.Target))
            {
                continue;
            }

            audienceMatched = true;
            if (rule.AllowsKind(request.CredentialKind))
            {
                chosen = rule;
            }
        }

        return chosen is null
            ? NoRuleAllows(agent, request, actionMatched, audienceMatched)
            : GrantBuilder.Build(chosen, request);
    }

    // Says how far the request got without revealing what the policy does allow.
    private static PolicyDecision NoRuleAllows(WorkloadIdentity agent, CredentialRequest request, bool actionMatched, bool audienceMatched)
    {
        var action = request.Intent.Action;
        return PolicyDecision.Deny(
            audienceMatched ? $"no rule allows action '{action}' for audience '{request.Target}' with credential kind '{request.CredentialKind}'"
            : actionMatched ? $"no rule allows action '{action}' for audience '{request.Target}'"
            : $"no rule allows agent '{agent.Id}' to perform action '{action}'");
    }
}
