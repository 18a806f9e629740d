using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace JitBroker.Redis.Resp;

/// <summary>
/// Parses RESP2 replies. <see cref="TryRead"/> returns false, consuming nothing the caller keeps, when the
/// buffer holds only part of a reply; the caller then waits for more bytes and tries again from the start.
/// Malformed input throws <see cref="RedisConnectionException"/>: the stream can no longer be trusted.
/// </summary>
internal static class RespParser
{
    /// <summary>Bulk strings above this are refused (Redis' own proto-max-bulk-len default is 512 MB).</summary>
    public const int MaxBulkLength = 512 * 1024 * 1024;

    private const int MaxArrayLength = 64 * 1024 * 1024;
    private const int MaxDepth = 32;

    public static bool TryRead(ref SequenceReader<byte> reader, out RedisValue value) => TryRead(ref reader, out value, 0);

    private static bool TryRead(ref SequenceReader<byte> reader, out RedisValue value, int depth)
    {
        value = default;
        if (depth > MaxDepth)
        {
            throw Protocol("replies nested too deeply");
        }

        if (!reader.TryRead(out var marker) || !TryReadLine(ref reader, out var line))
        {
            return false;
        }

        switch (marker)
        {
            case (byte)'+':
                value = RedisValue.SimpleString(Encoding.UTF8.GetString(line));
                return true;
            case (byte)'-':
                value = RedisValue.Error(Encoding.UTF8.GetString(line));
                return true;
            case (byte)':':
                value = RedisValue.Integer(ParseInteger(line));
                return true;
            case (byte)'$':
                return TryReadBulk(ref reader, ParseInteger(line), out value);
            case (byte)'*':
                return TryReadArray(ref reader, ParseInteger(line), depth, out value);
            default:
                throw Protocol($"unexpected reply type byte 0x{marker:x2}");
        }
    }

    private static bool TryReadBulk(ref SequenceReader<byte> reader, long length, out RedisValue value)
    {
        value = RedisValue.Null;
        if (length == -1)
        {
            return true;
        }

        if (length is < 0 or > MaxBulkLength)
        {
            throw Protocol($"bulk length {length} out of range");
        }

        if (reader.Remaining < length + 2)
        {
            return false;
        }

        var bytes = new byte[length];
        reader.TryCopyTo(bytes);
        reader.Advance(length);
        if (!reader.IsNext("\r\n"u8, advancePast: true))
        {
            throw Protocol("bulk string not terminated by CRLF");
        }

        value = RedisValue.Bulk(bytes);
        return true;
    }

    private static bool TryReadArray(ref SequenceReader<byte> reader, long length, int depth, out RedisValue value)
    {
        value = RedisValue.Null;
        if (length == -1)
        {
            return true;
        }

        if (length is < 0 or > MaxArrayLength)
        {
            throw Protocol($"array length {length} out of range");
        }

        // Do not trust the length to size an allocation before the items have arrived: each needs ≥ 3 bytes.
        if (reader.Remaining < length * 3)
        {
            return false;
        }

        var items = new RedisValue[length];
        for (var i = 0; i < items.Length; i++)
        {
            if (!TryRead(ref reader, out items[i], depth + 1))
            {
                return false;
            }
        }

        value = RedisValue.Array(items);
        return true;
    }

    private static bool TryReadLine(ref SequenceReader<byte> reader, out ReadOnlySpan<byte> line)
    {
        if (!reader.TryReadTo(out ReadOnlySequence<byte> sequence, "\r\n"u8))
        {
            line = default;
            if (reader.Remaining > 64 * 1024)
            {
                throw Protocol("reply line too long");
            }

            return false;
        }

        line = sequence.IsSingleSegment ? sequence.FirstSpan : sequence.ToArray();
        return true;
    }

    private static long ParseInteger(ReadOnlySpan<byte> line)
    {
        if (!Utf8Parser.TryParse(line, out long value, out var consumed) || consumed != line.Length)
        {
            throw Protocol("malformed integer");
        }

        return value;
    }

    private static RedisConnectionException Protocol(string what) => new("Redis protocol error: " + what + ".");
}
