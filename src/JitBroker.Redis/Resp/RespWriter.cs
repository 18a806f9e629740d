using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace JitBroker.Redis.Resp;

/// <summary>Writes commands as RESP2 arrays of bulk strings straight into a buffer writer (the connection's pipe).</summary>
internal static class RespWriter
{
    private const int SmallTextLimit = 4096;

    public static void WriteCommand(IBufferWriter<byte> output, string command, IReadOnlyList<RedisArg> args)
    {
        WriteHeader(output, (byte)'*', args.Count + 1);
        WriteText(output, command);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            switch (arg.Kind)
            {
                case RedisArgKind.Text:
                    WriteText(output, arg.Text);
                    break;
                case RedisArgKind.Integer:
                    WriteInteger(output, arg.Integer);
                    break;
                default:
                    WriteHeader(output, (byte)'$', arg.Bytes.Length);
                    output.Write(arg.Bytes.Span);
                    output.Write("\r\n"u8);
                    break;
            }
        }
    }

    private static void WriteText(IBufferWriter<byte> output, string text)
    {
        var length = Encoding.UTF8.GetByteCount(text);
        WriteHeader(output, (byte)'$', length);
        if (length <= SmallTextLimit)
        {
            var span = output.GetSpan(length + 2);
            Encoding.UTF8.GetBytes(text, span);
            span[length] = (byte)'\r';
            span[length + 1] = (byte)'\n';
            output.Advance(length + 2);
            return;
        }

        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var written = Encoding.UTF8.GetBytes(text, rented);
            output.Write(rented.AsSpan(0, written));
            output.Write("\r\n"u8);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static void WriteInteger(IBufferWriter<byte> output, long value)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, digits, out var count);
        WriteHeader(output, (byte)'$', count);
        var span = output.GetSpan(count + 2);
        digits[..count].CopyTo(span);
        span[count] = (byte)'\r';
        span[count + 1] = (byte)'\n';
        output.Advance(count + 2);
    }

    private static void WriteHeader(IBufferWriter<byte> output, byte marker, int length)
    {
        var span = output.GetSpan(16);
        span[0] = marker;
        Utf8Formatter.TryFormat(length, span[1..], out var count);
        span[count + 1] = (byte)'\r';
        span[count + 2] = (byte)'\n';
        output.Advance(count + 3);
    }
}
