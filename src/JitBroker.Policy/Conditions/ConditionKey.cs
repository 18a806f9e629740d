using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace JitBroker.Policy.Conditions;

/// <summary>
/// Where a condition reads its value. The full list (docs/policy.md):
/// <c>context.&lt;key&gt;</c> (declared <see cref="JitBroker.Core.TaskIntent.Context"/>),
/// <c>identity.&lt;fact&gt;</c> (attested <see cref="JitBroker.Core.WorkloadIdentity.Facts"/>),
/// <c>principal.id</c>, <c>principal.trust_domain</c>, <c>principal.method</c>,
/// <c>request.action</c>, <c>request.purpose</c>, <c>request.target</c>, <c>request.kind</c>,
/// <c>request.task_id</c>, <c>request.ttl_seconds</c> (missing when the request sets no TTL).
/// </summary>
internal sealed class ConditionKey
{
    public const int MaxNameLength = 128;

    private static readonly (string Key, Source Source)[] Fixed =
    [
        ("principal.id", Source.PrincipalId),
        ("principal.trust_domain", Source.PrincipalTrustDomain),
        ("principal.method", Source.PrincipalMethod),
        ("request.action", Source.RequestAction),
        ("request.purpose", Source.RequestPurpose),
        ("request.target", Source.RequestTarget),
        ("request.kind", Source.RequestKind),
        ("request.task_id", Source.RequestTaskId),
        ("request.ttl_seconds", Source.RequestTtlSeconds),
    ];

    /// <summary>Keys that name one fixed value (besides <c>context.*</c> and <c>identity.*</c>).</summary>
    public static IEnumerable<string> FixedKeys => Fixed.Select(f => f.Key);

    // The characters requests may use in context keys (CredentialRequestValidator); fact names use the same.
    private static readonly SearchValues<char> NameChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@");

    private readonly Source _source;
    private readonly string _name;

    private ConditionKey(string text, Source source, string name)
    {
        Text = text;
        _source = source;
        _name = name;
    }

    private enum Source
    {
        Context,
        Identity,
        PrincipalId,
        PrincipalTrustDomain,
        PrincipalMethod,
        RequestAction,
        RequestPurpose,
        RequestTarget,
        RequestKind,
        RequestTaskId,
        RequestTtlSeconds,
    }

    /// <summary>The key as written in the policy.</summary>
    public string Text { get; }

    /// <summary>The context key read (<c>context.&lt;key&gt;</c>), else null.</summary>
    public string? ContextName => _source == Source.Context ? _name : null;

    /// <summary>True for <c>request.purpose</c>.</summary>
    public bool ReadsPurpose => _source == Source.RequestPurpose;

    public static bool TryParse(string text, [NotNullWhen(true)] out ConditionKey? key, [NotNullWhen(false)] out string? error)
    {
        key = null;
        error = null;
        foreach (var (fixedKey, fixedSource) in Fixed)
        {
            if (fixedKey == text)
            {
                key = new ConditionKey(text, fixedSource, string.Empty);
                return true;
            }
        }

        foreach (var (prefix, source) in new[] { ("context.", Source.Context), ("identity.", Source.Identity) })
        {
            if (!text.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            var name = text[prefix.Length..];
            if (name.Length is 0 or > MaxNameLength || name.AsSpan().IndexOfAnyExcept(NameChars) >= 0)
            {
                error = $"condition key '{text}': the name after '{prefix}' must be 1-{MaxNameLength} characters of A-Z a-z 0-9 - _ . : / @";
                return false;
            }

            key = new ConditionKey(text, source, name);
            return true;
        }

        error = $"unknown condition key '{text}'; expected context.<key>, identity.<fact> or one of: {string.Join(", ", FixedKeys)}";
        return false;
    }

    /// <summary>The value the key names in this decision, or false when the request or identity does not carry it.</summary>
    public bool TryGet(ref DecisionInput input, [NotNullWhen(true)] out string? value)
    {
        var request = input.Request;
        value = _source switch
        {
            Source.Context => request.Intent.Context.TryGetValue(_name, out var v) ? v : null,
            Source.Identity => input.Agent.Facts.TryGetValue(_name, out var f) ? f : null,
            Source.PrincipalId => input.Agent.Id,
            Source.PrincipalTrustDomain => input.Agent.TrustDomain,
            Source.PrincipalMethod => input.Agent.Method,
            Source.RequestAction => request.Intent.Action,
            Source.RequestPurpose => request.Intent.Purpose,
            Source.RequestTarget => request.Target,
            Source.RequestKind => request.CredentialKind,
            Source.RequestTaskId => request.TaskId,
            _ => request.RequestedTtl is { } ttl ? ((long)ttl.TotalSeconds).ToString(CultureInfo.InvariantCulture) : null,
        };
        return value is not null;
    }

    /// <summary>The value as a number; false when missing or not a plain decimal number.</summary>
    public bool TryGetNumber(ref DecisionInput input, out decimal number)
    {
        if (_source == Source.RequestTtlSeconds)
        {
            // Read directly: no string round trip for the one numeric key the broker itself provides.
            number = input.Request.RequestedTtl is { } ttl ? (decimal)ttl.TotalSeconds : 0;
            return input.Request.RequestedTtl is not null;
        }

        number = 0;
        return TryGet(ref input, out var text) && ConditionValues.TryParseNumber(text, out number);
    }

    public override string ToString() => Text;
}
