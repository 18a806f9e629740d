using System.IO.Compression;
using Google.Protobuf;
using JitBroker.Wire.Tests.Infrastructure;
using JitBroker.Wire.Tests.Proto;

namespace JitBroker.Wire.Tests;

/// <summary>Raw HTTP/2 requests exercising grpc-encoding and grpc-timeout handling.</summary>
public sealed class ServerCompressionAndDeadlineTests : ServerTestBase
{
    [Test]
    public async Task A_gzip_compressed_request_is_decompressed()
    {
        var message = new TestRequest { Text = "zipped", Payload = ByteString.CopyFrom(new byte[10_000]) };
        var response = await SendAsync(RawGrpc.Frame(1, Gzip(message.ToByteArray())), ("grpc-encoding", "gzip"));

        Assert.That(response.Trailer("grpc-status"), Is.EqualTo("0"));
        Assert.That(TestResponse.Parser.ParseFrom(response.Body.AsSpan(5)).Text, Is.EqualTo("zipped"));
    }

    [Test]
    public async Task A_gzip_bomb_is_RESOURCE_EXHAUSTED_by_its_decompressed_size()
    {
        // ~10 KB on the wire, 16 MiB once inflated: the limit must apply to what comes out.
        var bomb = Gzip(new byte[16 * 1024 * 1024]);
        Assert.That(bomb, Has.Length.LessThan(100_000));

        var response = await SendAsync(RawGrpc.Frame(1, bomb), ("grpc-encoding", "gzip"));

        Assert.That(response.GrpcStatus, Is.EqualTo("8"));
        Assert.That(Service.Invocations, Is.Zero);
    }

    [Test]
    public async Task Corrupt_gzip_data_is_INTERNAL()
    {
        var response = await SendAsync(RawGrpc.Frame(1, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), ("grpc-encoding", "gzip"));
        Assert.That(response.GrpcStatus, Is.EqualTo("13"));
    }

    [TestCase("snappy")]
    [TestCase("deflate")]
    public async Task An_unsupported_encoding_is_UNIMPLEMENTED_and_lists_the_supported_ones(string encoding)
    {
        var response = await SendAsync(RawGrpc.Frame(1, [1, 2, 3]), ("grpc-encoding", encoding));

        Assert.That(response.GrpcStatus, Is.EqualTo("12"));
        Assert.That(response.Header("grpc-accept-encoding"), Is.EqualTo("identity,gzip"));
        Assert.That(response.Header("grpc-accept-encoding"), Does.Not.Contain(encoding));
    }

    [Test]
    public async Task An_unsupported_encoding_on_an_uncompressed_message_is_fine()
    {
        var response = await SendAsync(RawGrpc.Frame(new TestRequest { Text = "plain" }), ("grpc-encoding", "snappy"));
        Assert.That(response.Trailer("grpc-status"), Is.EqualTo("0"));
    }

    [TestCase(null)]
    [TestCase("identity")]
    public async Task Compressed_flag_without_an_encoding_is_INTERNAL(string? encoding)
    {
        var body = RawGrpc.Frame(1, Gzip(new TestRequest().ToByteArray()));
        var response = encoding is null ? await SendAsync(body) : await SendAsync(body, ("grpc-encoding", encoding));

        Assert.That(response.GrpcStatus, Is.EqualTo("13"));
        Assert.That(Service.Invocations, Is.Zero);
    }

    [TestCase("")]
    [TestCase("10")]
    [TestCase("S")]
    [TestCase("1.5S")]
    [TestCase("-1S")]
    [TestCase("10x")]
    [TestCase("123456789S")]
    [TestCase("1 S")]
    public async Task A_malformed_grpc_timeout_is_rejected_with_INTERNAL(string timeout)
    {
        var response = await SendAsync(RawGrpc.Frame(new TestRequest()), ("grpc-timeout", timeout));

        Assert.That(response.IsTrailersOnly, Is.True);
        Assert.That(response.GrpcStatus, Is.EqualTo("13"));
        Assert.That(response.GrpcMessage, Is.EqualTo("Malformed grpc-timeout header."));
        Assert.That(Service.Invocations, Is.Zero);
    }

    [TestCase("1H", 3_600_000)]
    [TestCase("2M", 120_000)]
    [TestCase("5S", 5_000)]
    [TestCase("100m", 100)]
    [TestCase("99999999u", 99_999)]
    [TestCase("2000000n", 2)]
    public async Task A_valid_grpc_timeout_becomes_the_handler_deadline(string timeout, long expectedMs)
    {
        var now = WireTestServer.Clock.GetUtcNow();
        var response = await SendAsync(RawGrpc.Frame(new TestRequest()), ("grpc-timeout", timeout));

        var echoed = TestResponse.Parser.ParseFrom(response.Body.AsSpan(5));
        Assert.That(echoed.HasDeadline, Is.True);
        Assert.That(echoed.DeadlineUnixMs - now.ToUnixTimeMilliseconds(), Is.EqualTo(expectedMs));
    }

    [Test]
    public async Task A_zero_timeout_is_DEADLINE_EXCEEDED_without_running_the_handler()
    {
        var response = await SendAsync(RawGrpc.Frame(new TestRequest()), ("grpc-timeout", "0S"));

        Assert.That(response.GrpcStatus, Is.EqualTo("4"));
        Assert.That(Service.Invocations, Is.Zero);
    }

    [Test]
    public async Task Deadline_answers_promptly_while_the_handler_ignores_cancellation_and_nothing_is_written_twice()
    {
        var request = RawGrpc.Request($"/{TestService.Name}/Block", RawGrpc.Frame(new TestRequest()));
        request.Headers.TryAddWithoutValidation("grpc-timeout", "1S");
        var send = RawGrpc.SendAsync(request);
        await Service.BlockStarted.Task.WaitAsync(RawGrpc.CallBound);

        WireTestServer.Clock.Advance(TimeSpan.FromSeconds(1));

        var response = await send; // the handler is still blocked: the answer cannot have come from it
        Assert.Multiple(() =>
        {
            Assert.That(Service.BlockReturned.Task.IsCompleted, Is.False);
            Assert.That(response.IsTrailersOnly, Is.True);
            Assert.That(response.GrpcStatus, Is.EqualTo("4"));
        });
        await Service.BlockCancelled.Task.WaitAsync(RawGrpc.CallBound);

        Service.BlockRelease.SetResult();
        await Service.BlockReturned.Task.WaitAsync(RawGrpc.CallBound);
        await Logs.WaitForAsync(e => e.EventId.Name == "GrpcHandlerFinishedLate");
    }

    [Test]
    public async Task A_deadline_that_has_not_passed_does_not_fire()
    {
        var request = RawGrpc.Request($"/{TestService.Name}/Block", RawGrpc.Frame(new TestRequest()));
        request.Headers.TryAddWithoutValidation("grpc-timeout", "10S");
        var send = RawGrpc.SendAsync(request);
        await Service.BlockStarted.Task.WaitAsync(RawGrpc.CallBound);

        WireTestServer.Clock.Advance(TimeSpan.FromSeconds(9));
        Service.BlockRelease.SetResult();

        var response = await send;
        Assert.That(response.Trailer("grpc-status"), Is.EqualTo("0"));
        Assert.That(Service.BlockCancelled.Task.IsCompleted, Is.False);
    }

    private static Task<RawResponse> SendAsync(byte[] body, params (string Name, string Value)[] headers)
    {
        var request = RawGrpc.Request(RawGrpc.EchoPath, body);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return RawGrpc.SendAsync(request);
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }
}
