using System.Collections.Concurrent;

namespace JitBroker.ToolGuard;

/// <summary>
/// Agents revoked by a subject-level event (CAEP session-revoked with an <c>iss_sub</c> subject): every token whose
/// <c>sub</c> is the agent and whose <c>iat</c> is at or before the event's timestamp is refused. A later token of the same
/// agent (issued after a kill switch was lifted) passes. Bounded: past the capacity the entry that ends first goes —
/// per-credential events and introspection still refuse its tokens.
/// </summary>
internal sealed class SubjectRevocations(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, (DateTimeOffset IssuedAtOrBefore, DateTimeOffset Until)> _subjects = new(StringComparer.Ordinal);

    public int Count => _subjects.Count;

    public void Revoke(string subject, DateTimeOffset issuedAtOrBefore, DateTimeOffset until, int capacity)
    {
        if (_subjects.Count >= capacity && !_subjects.ContainsKey(subject))
        {
            var now = time.GetUtcNow();
            foreach (var (key, entry) in _subjects)
            {
                if (entry.Until < now)
                {
                    _subjects.TryRemove(key, out _);
                }
            }

            if (_subjects.Count >= capacity && _subjects.MinBy(e => e.Value.Until) is { Key: { } first })
            {
                _subjects.TryRemove(first, out _);
            }
        }

        // A second event for the same agent (a second kill switch) moves the cut-off forward, never back.
        _subjects.AddOrUpdate(subject, (issuedAtOrBefore, until),
            (_, old) => (Max(old.IssuedAtOrBefore, issuedAtOrBefore), Max(old.Until, until)));
    }

    public bool IsRevoked(string? subject, DateTimeOffset? issuedAt) =>
        subject is not null && _subjects.TryGetValue(subject, out var entry) && entry.Until >= time.GetUtcNow()
        // A token without iat cannot be placed after the cut-off: refused (fail closed).
        && (issuedAt is not { } iat || iat <= entry.IssuedAtOrBefore);

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}
