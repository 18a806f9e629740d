using System.Collections.Concurrent;

namespace JitBroker.ToolGuard;

/// <summary>
/// A string-keyed <see cref="ConcurrentDictionary{TKey, TValue}"/> whose size is a counter of its own, for the bounded
/// in-memory tables of a tool (DPoP replay, revocation shortcut, introspection answers) that check their size on every add.
/// </summary>
/// <remarks>
/// Why: <c>ConcurrentDictionary.Count</c> takes every lock of the map (up to 1,024 once it has grown); paid on every add it
/// was half of the broker's sweeper CPU in the same pattern (docs/benchmarks.md, "Where the revocation lag went"). The
/// counter moves only on an add or a removal that happened, so it is exact once concurrent calls have returned.
/// </remarks>
internal sealed class CountedMap<TValue>
{
    private readonly ConcurrentDictionary<string, TValue> _map = new(StringComparer.Ordinal);
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public bool TryGetValue(string key, out TValue value) => _map.TryGetValue(key, out value!);

    /// <summary>Adds <paramref name="key"/> when absent; false when it was there.</summary>
    public bool TryAdd(string key, TValue value)
    {
        if (!_map.TryAdd(key, value))
        {
            return false;
        }

        Interlocked.Increment(ref _count);
        return true;
    }

    /// <summary>Adds or replaces the value of <paramref name="key"/>.</summary>
    public void Set(string key, TValue value)
    {
        while (!TryAdd(key, value))
        {
            if (_map.TryGetValue(key, out var current) && _map.TryUpdate(key, value, current))
            {
                return;
            }
        }
    }

    /// <summary>Removes every entry whose value matches; an entry replaced meanwhile is left alone.</summary>
    public void RemoveWhere(Func<TValue, bool> match)
    {
        foreach (var entry in _map)
        {
            if (match(entry.Value) && _map.TryRemove(entry))
            {
                Interlocked.Decrement(ref _count);
            }
        }
    }

    /// <summary>Removes the entry with the least value by <paramref name="order"/>, if any.</summary>
    public void RemoveLeast<TOrder>(Func<TValue, TOrder> order)
    {
        // Not MinBy: on a map emptied meanwhile it throws (KeyValuePair is a struct).
        KeyValuePair<string, TValue>? least = null;
        foreach (var entry in _map)
        {
            if (least is null || Comparer<TOrder>.Default.Compare(order(entry.Value), order(least.Value.Value)) < 0)
            {
                least = entry;
            }
        }

        if (least is { } found && _map.TryRemove(found))
        {
            Interlocked.Decrement(ref _count);
        }
    }
}
