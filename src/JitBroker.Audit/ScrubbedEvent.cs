using JitBroker.Core;

namespace JitBroker.Audit;

/// <summary>
/// An <see cref="AuditEvent"/>'s members as its record holds them: every string scrubbed (<see cref="SecretScrubber"/>)
/// exactly once, so the stored line and the hashed JCS form are written from the same values. Throws
/// <see cref="NullReferenceException"/> or <see cref="ArgumentException"/> for a malformed event (a null list).
/// </summary>
internal sealed class ScrubbedEvent
{
    public ScrubbedEvent(AuditEvent e)
    {
        Type = e.Type ?? throw new ArgumentException("An audit event needs a type.", nameof(e));
        AgentId = ScrubOrNull(e.AgentId);
        TaskId = ScrubOrNull(e.TaskId);
        if (e.Intent is { } intent)
        {
            Action = SecretScrubber.Scrub(intent.Action);
            Purpose = SecretScrubber.Scrub(intent.Purpose);
            Tools = ScrubAll(intent.Tools);
            Resources = ScrubAll(intent.Resources);
            Context = ScrubbedContext.Of(intent.Context);
        }

        Decision = ScrubOrNull(e.Decision);
        RuleIds = ScrubAll(e.RuleIds);
        LeaseId = ScrubOrNull(e.LeaseId);
        ParentLeaseId = ScrubOrNull(e.ParentLeaseId);
        CredentialFingerprint = e.CredentialFingerprint is { } fingerprint ? SecretScrubber.Fingerprint(fingerprint) : null;
        Reason = ScrubOrNull(e.Reason);
        Detail = ScrubOrNull(e.Detail);
        Actor = ScrubOrNull(e.Actor);
        Owner = ScrubOrNull(e.Owner);
        if (e.Use is { } use)
        {
            Use = use with
            {
                Tool = SecretScrubber.Scrub(use.Tool),
                ToolAction = SecretScrubber.Scrub(use.ToolAction),
                Resource = SecretScrubber.Scrub(use.Resource),
                Audience = SecretScrubber.Scrub(use.Audience),
            };
            UseAt = AuditRecord.FormatTime(use.At);
        }
    }

    // Type and the use's outcome are the broker's own constants: written as given, not scrubbed (as before).
    public string Type { get; }

    public string? AgentId { get; }

    public string? TaskId { get; }

    /// <summary>True when the event carries an intent (then Action … Context are set).</summary>
    public bool HasIntent => Context is not null;

    public string? Action { get; }

    public string? Purpose { get; }

    public IReadOnlyList<string> Tools { get; } = [];

    public IReadOnlyList<string> Resources { get; } = [];

    public ScrubbedContext? Context { get; }

    public string? Decision { get; }

    public IReadOnlyList<string> RuleIds { get; }

    public string? LeaseId { get; }

    public string? ParentLeaseId { get; }

    public string? CredentialFingerprint { get; }

    public string? Reason { get; }

    public string? Detail { get; }

    public string? Actor { get; }

    public string? Owner { get; }

    public CredentialUseFacts? Use { get; }

    public string? UseAt { get; }

    private static string? ScrubOrNull(string? value) => value is null ? null : SecretScrubber.Scrub(value);

    // The list itself when scrubbing changes nothing (the usual case): no copy per record.
    private static IReadOnlyList<string> ScrubAll(IReadOnlyList<string> values)
    {
        string[]? copy = null;
        for (var i = 0; i < values.Count; i++)
        {
            var value = values[i] ?? throw new ArgumentException("An audit event list holds a null.", nameof(values));
            var scrubbed = SecretScrubber.Scrub(value);
            if (copy is null && !ReferenceEquals(scrubbed, value))
            {
                copy = new string[values.Count];
                for (var j = 0; j < i; j++)
                {
                    copy[j] = values[j];
                }
            }

            if (copy is not null)
            {
                copy[i] = scrubbed;
            }
        }

        return copy ?? values;
    }
}

/// <summary>
/// An intent's context map, keys and values scrubbed. Stored in the order of the keys as given (ordinal), hashed in the
/// order of the scrubbed keys; two keys that scrub to the same text are one member, where the first stood, holding the
/// last one's value.
/// </summary>
internal sealed class ScrubbedContext
{
    // Immutable, so every event without context (most of them) can share one instead of building its empty arrays.
    private static readonly ScrubbedContext Empty = new(new Dictionary<string, string>());

    private ScrubbedContext(IReadOnlyDictionary<string, string> context)
    {
        var given = new KeyValuePair<string, string>[context.Count];
        var n = 0;
        foreach (var pair in context)
        {
            given[n++] = pair;
        }

        Array.Sort(given, static (x, y) => string.CompareOrdinal(x.Key, y.Key));
        var members = new Member[n];
        for (var i = 0; i < n; i++)
        {
            members[i] = new Member(SecretScrubber.Scrub(given[i].Key), SecretScrubber.Scrub(given[i].Value), i);
        }

        // Sorted by scrubbed key, then by given position: equal keys end up side by side, first one first.
        Array.Sort(members, static (x, y) => string.CompareOrdinal(x.Key, y.Key) is var c && c != 0 ? c : x.Position.CompareTo(y.Position));
        var kept = 0;
        for (var i = 0; i < n; i++)
        {
            if (kept > 0 && members[kept - 1].Key == members[i].Key)
            {
                members[kept - 1] = members[kept - 1] with { Value = members[i].Value };
            }
            else
            {
                members[kept++] = members[i];
            }
        }

        Sorted = members.AsMemory(0, kept);
        var asGiven = Sorted.ToArray();
        Array.Sort(asGiven, static (x, y) => x.Position.CompareTo(y.Position));
        AsGiven = asGiven;
    }

    public static ScrubbedContext Of(IReadOnlyDictionary<string, string> context) => context.Count == 0 ? Empty : new(context);

    /// <summary>Members by scrubbed key (ordinal): the JCS order.</summary>
    public ReadOnlyMemory<Member> Sorted { get; }

    /// <summary>Members by the keys as given: the stored order.</summary>
    public ReadOnlyMemory<Member> AsGiven { get; }

    internal readonly record struct Member(string Key, string Value, int Position);
}
