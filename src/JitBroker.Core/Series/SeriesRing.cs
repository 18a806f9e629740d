namespace JitBroker.Core.Series;

/// <summary>One sample of a series; <see cref="Value"/> is null when there was nothing to measure (a gap, not a zero).</summary>
public readonly record struct SeriesPoint(DateTimeOffset At, double? Value);

/// <summary>A fixed-size ring of samples: adding beyond <see cref="Capacity"/> drops the oldest. Not thread-safe by itself.</summary>
public sealed class SeriesRing<T>
{
    private readonly T[] _items;
    private int _next;
    private int _count;

    public SeriesRing(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _items = new T[capacity];
    }

    public int Capacity => _items.Length;

    public void Add(T item)
    {
        _items[_next] = item;
        _next = (_next + 1) % _items.Length;
        _count = Math.Min(_count + 1, _items.Length);
    }

    /// <summary>Oldest first.</summary>
    public T[] ToArray()
    {
        var result = new T[_count];
        var start = (_next - _count + _items.Length) % _items.Length;
        for (var i = 0; i < _count; i++)
        {
            result[i] = _items[(start + i) % _items.Length];
        }

        return result;
    }
}
