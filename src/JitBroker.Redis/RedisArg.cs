namespace JitBroker.Redis;

/// <summary>
/// One command argument, written to the socket as a RESP bulk string without an intermediate copy: text as
/// UTF-8, integers in decimal, bytes verbatim. Implicit conversions keep call sites short:
/// <c>ExecuteAsync("SET", [key, value, "PX", 500])</c>.
/// </summary>
public readonly struct RedisArg
{
    private readonly string? _text;
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly long _integer;

    private RedisArg(string? text, ReadOnlyMemory<byte> bytes, long integer, RedisArgKind kind)
    {
        _text = text;
        _bytes = bytes;
        _integer = integer;
        Kind = kind;
    }

    internal RedisArgKind Kind { get; }

    internal string Text => _text!;

    internal ReadOnlyMemory<byte> Bytes => _bytes;

    internal long Integer => _integer;

    public static implicit operator RedisArg(string text) => FromString(text);

    public static implicit operator RedisArg(long integer) => FromInt64(integer);

    public static implicit operator RedisArg(byte[] bytes) => FromBytes(bytes);

    public static implicit operator RedisArg(ReadOnlyMemory<byte> bytes) => FromBytes(bytes);

    public static RedisArg FromString(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new RedisArg(text, default, 0, RedisArgKind.Text);
    }

    public static RedisArg FromInt64(long integer) => new(null, default, integer, RedisArgKind.Integer);

    public static RedisArg FromBytes(ReadOnlyMemory<byte> bytes) => new(null, bytes, 0, RedisArgKind.Bytes);

    /// <summary>For diagnostics only: arguments may be secrets, so only their kind and size are shown.</summary>
    public override string ToString() => Kind switch
    {
        RedisArgKind.Text => $"text({_text!.Length})",
        RedisArgKind.Integer => "integer",
        _ => $"bytes({_bytes.Length})",
    };
}

internal enum RedisArgKind : byte
{
    Text,
    Integer,
    Bytes,
}
