using System.Text;
using JitBroker.Core;

namespace JitBroker.Audit;

/// <summary>Reads the end of a JSON-lines audit file without reading all of it.</summary>
public static class AuditFileReader
{
    private const int ChunkSize = 8192;

    /// <summary>
    /// The last <paramref name="count"/> lines of <paramref name="stream"/> (fewer when the file is shorter), and
    /// whether the file ends with a newline — false means the last line is torn (a write was interrupted).
    /// For display only: bytes that are not UTF-8 show as U+FFFD. Anything that trusts the text (continuing
    /// the hash chain) reads with <see cref="ReadLastLinesStrict"/>.
    /// </summary>
    public static (IReadOnlyList<string> Lines, bool EndsWithNewline) ReadLastLines(Stream stream, int count) =>
        ReadLastLines(stream, count, Encoding.UTF8);

    /// <summary>
    /// As <see cref="ReadLastLines"/>, but bytes that are not strictly UTF-8 throw <see cref="InvalidDataException"/>
    /// instead of becoming U+FFFD: a line whose invalid bytes decode to the same text as the recorded one would
    /// otherwise still match its hash.
    /// </summary>
    public static (IReadOnlyList<string> Lines, bool EndsWithNewline) ReadLastLinesStrict(Stream stream, int count)
    {
        try
        {
            return ReadLastLines(stream, count, StrictUtf8.Encoding);
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDataException("the end of the file is not valid UTF-8");
        }
    }

    private static (IReadOnlyList<string> Lines, bool EndsWithNewline) ReadLastLines(Stream stream, int count, Encoding encoding)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var length = stream.Length;
        if (length == 0)
        {
            return ([], true);
        }

        var endsWithNewline = ByteAt(stream, length - 1) == '\n';
        // The bytes after the target-th newline from the end hold the wanted lines.
        var target = count + (endsWithNewline ? 1 : 0);
        var tail = new List<byte[]>();
        var position = length;
        var newlines = 0;
        var buffer = new byte[ChunkSize];
        while (position > 0 && newlines < target)
        {
            var size = (int)Math.Min(ChunkSize, position);
            position -= size;
            stream.Position = position;
            stream.ReadExactly(buffer, 0, size);
            var chunk = buffer[..size];
            for (var i = size - 1; i >= 0; i--)
            {
                if (chunk[i] == '\n' && ++newlines == target)
                {
                    chunk = chunk[(i + 1)..];
                    break;
                }
            }

            tail.Insert(0, chunk);
        }

        var text = encoding.GetString([.. tail.SelectMany(c => c)]);
        var lines = text.Split('\n').ToList();
        if (endsWithNewline)
        {
            lines.RemoveAt(lines.Count - 1);
        }

        return (lines.Count > count ? lines[^count..] : lines, endsWithNewline);
    }

    /// <summary>Number of lines in the stream (a torn last line counts), for error messages that name a line.</summary>
    public static long CountLines(Stream stream)
    {
        stream.Position = 0;
        var buffer = new byte[1 << 16];
        long lines = 0;
        int read;
        var last = (byte)'\n';
        while ((read = stream.Read(buffer)) > 0)
        {
            lines += buffer.AsSpan(0, read).Count((byte)'\n');
            last = buffer[read - 1];
        }

        return last == '\n' ? lines : lines + 1;
    }

    private static int ByteAt(Stream stream, long offset)
    {
        stream.Position = offset;
        return stream.ReadByte();
    }
}
