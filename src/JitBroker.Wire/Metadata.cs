using System.Collections;

namespace JitBroker.Wire;

/// <summary>
/// gRPC custom metadata (request headers or response trailers): an ordered list of key/value pairs in which a
/// key may repeat. Keys are case-insensitive and stored lowercase; they must match the spec's Header-Name
/// (<c>0-9 a-z _ - .</c>). Values must be printable ASCII (0x20-0x7E); for keys ending in <c>-bin</c> the
/// caller supplies the base64 text itself. Keys that gRPC or HTTP/2 reserve (<c>grpc-*</c>, <c>content-type</c>,
/// <c>te</c>, connection-level headers) are rejected so an application cannot forge the call's own framing.
/// Not thread-safe.
/// </summary>
public sealed class Metadata : IEnumerable<KeyValuePair<string, string>>
{
    private readonly List<KeyValuePair<string, string>> _entries = [];

    /// <summary>Number of entries, counting repeated keys.</summary>
    public int Count => _entries.Count;

    /// <summary>Adds an entry. The key is lowercased.</summary>
    /// <exception cref="ArgumentException">The key or value is not allowed (see the class remarks).</exception>
    public void Add(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        var normalized = key.ToLowerInvariant();
        if (!IsValidKey(normalized))
        {
            throw new ArgumentException("Metadata keys must be non-empty and use only 0-9 a-z _ - .", nameof(key));
        }

        if (IsReservedKey(normalized))
        {
            throw new ArgumentException($"Metadata key '{normalized}' is reserved by gRPC/HTTP2.", nameof(key));
        }

        if (!IsValidValue(value))
        {
            throw new ArgumentException("Metadata values must be printable ASCII (0x20-0x7E).", nameof(value));
        }

        _entries.Add(new KeyValuePair<string, string>(normalized, value));
    }

    /// <summary>The value of the last entry with this key (case-insensitive), or null.</summary>
    public string? Get(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        for (var i = _entries.Count - 1; i >= 0; i--)
        {
            if (string.Equals(_entries[i].Key, key, StringComparison.OrdinalIgnoreCase))
            {
                return _entries[i].Value;
            }
        }

        return null;
    }

    /// <summary>All values with this key (case-insensitive), in the order they were added.</summary>
    public IReadOnlyList<string> GetAll(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return [.. _entries.Where(e => string.Equals(e.Key, key, StringComparison.OrdinalIgnoreCase)).Select(e => e.Value)];
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>
    /// Adds a header received from the peer. The spec says a receiver must not fail on header values it would
    /// not send itself; such entries (and reserved keys) are dropped rather than surfaced to the application.
    /// </summary>
    internal void AddReceived(string key, string value)
    {
        var normalized = key.ToLowerInvariant();
        if (IsValidKey(normalized) && !IsReservedKey(normalized) && IsValidValue(value))
        {
            _entries.Add(new KeyValuePair<string, string>(normalized, value));
        }
    }

    internal static bool IsValidKey(string key)
    {
        if (key.Length == 0)
        {
            return false;
        }

        foreach (var c in key)
        {
            var ok = c is (>= '0' and <= '9') or (>= 'a' and <= 'z') or '_' or '-' or '.';
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    internal static bool IsReservedKey(string lowercaseKey) =>
        lowercaseKey.StartsWith("grpc-", StringComparison.Ordinal)
        || lowercaseKey is "content-type" or "content-length" or "te" or "host" or "connection" or "keep-alive"
            or "proxy-connection" or "transfer-encoding" or "upgrade";

    internal static bool IsValidValue(string value)
    {
        foreach (var c in value)
        {
            if (c is < (char)0x20 or > (char)0x7E)
            {
                return false;
            }
        }

        return true;
    }
}
