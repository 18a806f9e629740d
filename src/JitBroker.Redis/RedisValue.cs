using System.Globalization;
using System.Text;

namespace JitBroker.Redis;

public enum RedisValueKind : byte
{
    /// <summary>A RESP2 null bulk string or null array.</summary>
    Null,
    SimpleString,
    Error,
    Integer,
    BulkString,
    Array,
}

/// <summary>One RESP2 reply. Bulk strings are kept as bytes (binary-safe); convert with <see cref="AsString"/> where text is expected.</summary>
public readonly struct RedisValue
{
    private readonly object? _payload;
    private readonly long _integer;

    private RedisValue(RedisValueKind kind, object? payload, long integer)
    {
        Kind = kind;
        _payload = payload;
        _integer = integer;
    }

    public static RedisValue Null => default;

    public RedisValueKind Kind { get; }

    public bool IsNull => Kind == RedisValueKind.Null;

    internal static RedisValue SimpleString(string text) => new(RedisValueKind.SimpleString, text, 0);

    internal static RedisValue Error(string message) => new(RedisValueKind.Error, message, 0);

    internal static RedisValue Integer(long value) => new(RedisValueKind.Integer, null, value);

    internal static RedisValue Bulk(byte[] bytes) => new(RedisValueKind.BulkString, bytes, 0);

    internal static RedisValue Array(RedisValue[] items) => new(RedisValueKind.Array, items, 0);

    /// <summary>Text of a simple or bulk string (UTF-8), the decimal form of an integer, or null for a null reply.</summary>
    public string? AsString() => Kind switch
    {
        RedisValueKind.Null => null,
        RedisValueKind.SimpleString or RedisValueKind.Error => (string)_payload!,
        RedisValueKind.BulkString => Encoding.UTF8.GetString((byte[])_payload!),
        RedisValueKind.Integer => _integer.ToString(CultureInfo.InvariantCulture),
        _ => throw new InvalidCastException($"A {Kind} reply is not a string."),
    };

    /// <summary>Bytes of a bulk string (the array itself, not a copy), or null for a null reply.</summary>
    public byte[]? AsBytes() => Kind switch
    {
        RedisValueKind.Null => null,
        RedisValueKind.BulkString => (byte[])_payload!,
        RedisValueKind.SimpleString => Encoding.UTF8.GetBytes((string)_payload!),
        _ => throw new InvalidCastException($"A {Kind} reply is not a byte string."),
    };

    /// <summary>An integer reply, or a simple/bulk string holding a decimal integer (as Lua returns numbers as strings).</summary>
    public long AsInt64() => Kind switch
    {
        RedisValueKind.Integer => _integer,
        RedisValueKind.BulkString or RedisValueKind.SimpleString => long.Parse(AsString()!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
        _ => throw new InvalidCastException($"A {Kind} reply is not an integer."),
    };

    /// <summary>Items of an array reply; an empty array for a null reply.</summary>
    public RedisValue[] AsArray() => Kind switch
    {
        RedisValueKind.Array => (RedisValue[])_payload!,
        RedisValueKind.Null => [],
        _ => throw new InvalidCastException($"A {Kind} reply is not an array."),
    };

    public override string ToString() => Kind switch
    {
        RedisValueKind.Null => "(nil)",
        RedisValueKind.Array => $"array({((RedisValue[])_payload!).Length})",
        RedisValueKind.BulkString => $"bulk({((byte[])_payload!).Length})",
        _ => $"{Kind}:{AsString()}",
    };
}
