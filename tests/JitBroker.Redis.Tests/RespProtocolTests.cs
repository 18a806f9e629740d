using System.Buffers;
using System.Text;
using JitBroker.Redis.Resp;
using NUnit.Framework;

namespace JitBroker.Redis.Tests;

/// <summary>The RESP2 codec on its own: framing, partial input, malformed input.</summary>
[TestFixture]
public sealed class RespProtocolTests
{
    private static string Written(string command, params RedisArg[] args)
    {
        var buffer = new ArrayBufferWriter<byte>();
        RespWriter.WriteCommand(buffer, command, args);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static bool TryParse(string wire, out RedisValue value, out long consumed)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(wire)));
        var ok = RespParser.TryRead(ref reader, out value);
        consumed = reader.Consumed;
        return ok;
    }

    [Test]
    public void Commands_are_arrays_of_bulk_strings_with_utf8_lengths()
    {
        Assert.That(Written("SET", "k€y", 42, new byte[] { 0, 13, 10 }),
            Is.EqualTo("*4\r\n$3\r\nSET\r\n$5\r\nk€y\r\n$2\r\n42\r\n$3\r\n\0\r\n\r\n"));
        Assert.That(Written("PING"), Is.EqualTo("*1\r\n$4\r\nPING\r\n"));
        Assert.That(Written("X", -7L, ""), Is.EqualTo("*3\r\n$1\r\nX\r\n$2\r\n-7\r\n$0\r\n\r\n"));
    }

    [Test]
    public void Long_text_arguments_are_written_whole()
    {
        var text = new string('é', 10_000);
        var wire = Written("SET", "k", text);
        Assert.That(wire, Does.EndWith("$20000\r\n" + text + "\r\n"));
    }

    [Test]
    public void Every_reply_type_parses()
    {
        Assert.That(TryParse("+OK\r\n", out var simple, out _) && simple.AsString() == "OK");
        Assert.That(TryParse("-ERR boom\r\n", out var error, out _) && error.Kind == RedisValueKind.Error && error.AsString() == "ERR boom");
        Assert.That(TryParse(":-12\r\n", out var integer, out _) && integer.AsInt64() == -12);
        Assert.That(TryParse("$-1\r\n", out var nil, out _) && nil.IsNull);
        Assert.That(TryParse("*-1\r\n", out var nilArray, out _) && nilArray.IsNull);
        Assert.That(TryParse("$4\r\na\r\nb\r\n", out var bulk, out _) && bulk.AsString() == "a\r\nb");
        Assert.That(TryParse("*3\r\n:1\r\n$1\r\nx\r\n*1\r\n+y\r\n", out var array, out var consumed), Is.True);
        Assert.That(consumed, Is.EqualTo(23), "the whole reply and nothing more");
        var items = array.AsArray();
        Assert.That((items[0].AsInt64(), items[1].AsString(), items[2].AsArray()[0].AsString()), Is.EqualTo((1L, "x", "y")));
    }

    [TestCase("+OK")]
    [TestCase("+OK\r")]
    [TestCase("$5\r\nabc")]
    [TestCase("$5\r\nabcde")]
    [TestCase("*2\r\n:1\r\n")]
    [TestCase("*2\r\n:1\r\n$3\r\nab")]
    [TestCase("")]
    public void Partial_replies_are_not_consumed(string wire) =>
        Assert.That(TryParse(wire, out _, out _), Is.False);

    [TestCase("?what\r\n")]
    [TestCase(":12x\r\n")]
    [TestCase("$3\r\nabcXY")]
    [TestCase("$-5\r\n")]
    public void Malformed_replies_are_protocol_errors(string wire) =>
        Assert.Throws<RedisConnectionException>(() => TryParse(wire, out _, out _));

    [Test]
    public void Replies_split_across_segments_parse()
    {
        var first = new Segment(Encoding.ASCII.GetBytes("*2\r\n$5\r\nhel"));
        var last = first.Append(Encoding.ASCII.GetBytes("lo\r\n:7\r\n"));
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length));

        Assert.That(RespParser.TryRead(ref reader, out var value), Is.True);
        Assert.That((value.AsArray()[0].AsString(), value.AsArray()[1].AsInt64()), Is.EqualTo(("hello", 7L)));
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] bytes) => Memory = bytes;

        public Segment Append(byte[] bytes)
        {
            var next = new Segment(bytes) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
