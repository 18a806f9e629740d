using System.Collections;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;

namespace JitBroker.Core;

/// <summary>
/// An attestor's facts when it always reports the same few names (a JWT-SVID's <c>spiffe_id</c>, <c>trust_domain</c>,
/// <c>path</c>): the names are the attestor's one immutable list, shared; the values are copied. Read-only like the
/// <c>AsReadOnly()</c> dictionary it replaces (an identity may be served from the verified-token cache to many requests),
/// but one small object and one array per identity instead of a dictionary, its buckets, its entries and a wrapper.
/// Lookups compare ordinally over the few names, which is what a dictionary of three costs too.
/// </summary>
public sealed class FixedFactDictionary : IReadOnlyDictionary<string, string>
{
    private readonly ImmutableArray<string> _names;
    private readonly string[] _values;

    /// <param name="names">Unique, non-null names: immutable, so the attestor's one list is shared, not copied.</param>
    /// <param name="values">One non-null value per name, copied (the only array made per identity).</param>
    /// <exception cref="ArgumentException">The counts differ, a name is repeated, or a name or value is null.</exception>
    public FixedFactDictionary(ImmutableArray<string> names, params ReadOnlySpan<string> values)
    {
        if (names.IsDefault)
        {
            throw new ArgumentNullException(nameof(names));
        }

        if (names.Length != values.Length)
        {
            throw new ArgumentException($"{names.Length} fact names but {values.Length} values.", nameof(values));
        }

        for (var i = 0; i < names.Length; i++)
        {
            if (names[i] is null || values[i] is null)
            {
                throw new ArgumentException("Fact names and values must not be null.", names[i] is null ? nameof(names) : nameof(values));
            }

            if (names.AsSpan()[(i + 1)..].Contains(names[i]))
            {
                throw new ArgumentException($"The fact name '{names[i]}' is given twice.", nameof(names));
            }
        }

        _names = names;
        _values = values.ToArray();
    }

    public int Count => _names.Length;

    public IEnumerable<string> Keys => _names;

    public IEnumerable<string> Values => Array.AsReadOnly(_values);

    public string this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"No fact '{key}'.");

    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
    {
        var i = IndexOf(key);
        value = i >= 0 ? _values[i] : null;
        return i >= 0;
    }

    /// <summary>Writes the names into <paramref name="into"/> (at least <see cref="Count"/> long) in their given order; returns how many.</summary>
    public int CopyNames(Span<string> into)
    {
        _names.CopyTo(into);
        return _names.Length;
    }

    /// <summary>The name and value at <paramref name="index"/> (0 to <see cref="Count"/> − 1), in the given order: a walk without an enumerator.</summary>
    public KeyValuePair<string, string> At(int index) => new(_names[index], _values[index]);

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
    {
        for (var i = 0; i < _names.Length; i++)
        {
            yield return At(i);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private int IndexOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        for (var i = 0; i < _names.Length; i++)
        {
            if (string.Equals(_names[i], key, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}
