using System.Net;
using JitBroker.Wire.Tests.Infrastructure;
using JitBroker.Wire.Tests.Proto;

namespace JitBroker.Wire.Tests;

/// <summary>Raw HTTP/2 requests: response shapes, message framing and the requests that are not gRPC at all.</summary>
public sealed class ServerFramingTests : ServerTestBase
{
    [Test]
    public async Task A_successful_call_has_headers_one_framed_message_and_status_in_trailers()
    {
        var response = await RawGrpc.SendAsync(RawGrpc.Request(RawGrpc.EchoPath, RawGrpc.Frame(new TestRequest { Text = "x", TrailerValue = "t1" })));

        Assert.Multiple(() =>
        {
            Assert.That(response.Status, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(response.ContentType, Is.EqualTo("application/grpc"));
            Assert.That(response.Header("grpc-status"), Is.Null, "status belongs in the trailers here");
            Assert.That(response.Trailer("grpc-status"), Is.EqualTo("0"));
            Assert.That(response.Trailer("x-test-trailer"), Is.EqualTo("t1"));
            Assert.That(response.Body[0], Is.Zero, "responses are not compressed");
            Assert.That(response.Body.Length - 5, Is.EqualTo(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(response.Body.AsSpan(1))));
            Assert.That(TestResponse.Parser.ParseFrom(response.Body.AsSpan(5)).Text, Is.EqualTo("x"));
        });
    }

    [Test]
    public async Task An_error_before_any_message_is_Trailers_Only_with_a_percent_encoded_message()
    {
        var request = new TestRequest { StatusCode = (int)StatusCode.PermissionDenied, Detail = "100% é\r\n" };
        var response = await RawGrpc.SendAsync(RawGrpc.Request($"/{TestService.Name}/Fail", RawGrpc.Frame(request)));

        Assert.Multiple(() =>
        {
            Assert.That(response.Status, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(response.ContentType, Is.EqualTo("application/grpc"));
            Assert.That(response.IsTrailersOnly, Is.True);
            Assert.That(response.Header("grpc-status"), Is.EqualTo("7"));
            Assert.That(response.Header("grpc-message"), Is.EqualTo("100%25 %C3%A9%0D%0A"));
            Assert.That(response.Header("jitbroker-reason"), Is.EqualTo("policy.denied"));
        });
    }

    [TestCase(new byte[0], "Request did not contain a message.", TestName = "Empty body")]
    [TestCase(new byte[] { 0, 0, 0 }, "Incomplete message.", TestName = "Truncated length prefix")]
    [TestCase(new byte[] { 0, 0, 0, 0, 100, 1, 2, 3 }, "Incomplete message.", TestName = "Truncated message")]
    [TestCase(new byte[] { 0, 0, 0, 0, 0, 9 }, "Additional data after the message received.", TestName = "Trailing byte after the message")]
    [TestCase(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, "Additional data after the message received.", TestName = "Two messages")]
    [TestCase(new byte[] { 0x7B, 0x22, 0x61, 0x22, 0x3A, 0x31, 0x7D }, "Invalid Compressed-Flag value.", TestName = "Garbage (JSON) body")]
    public async Task Malformed_framing_is_INTERNAL_and_never_reaches_the_handler(byte[] body, string detail)
    {
        var response = await RawGrpc.SendAsync(RawGrpc.Request(RawGrpc.EchoPath, body));

        Assert.That(response.IsTrailersOnly, Is.True);
        Assert.That(response.GrpcStatus, Is.EqualTo("13"));
        Assert.That(response.GrpcMessage, Is.EqualTo(detail));
        Assert.That(Service.Invocations, Is.Zero);
    }

    [Test]
    public async Task A_body_that_is_not_protobuf_is_INVALID_ARGUMENT()
    {
        var response = await RawGrpc.SendAsync(RawGrpc.Request(RawGrpc.EchoPath, RawGrpc.Frame(0, [0xFF, 0xFF, 0xFF, 0xFF])));

        Assert.That(response.GrpcStatus, Is.EqualTo("3"));
        Assert.That(Service.Invocations, Is.Zero);
    }

    [Test]
    public async Task A_huge_length_prefix_is_RESOURCE_EXHAUSTED_without_waiting_for_the_body()
    {
        // The body never ends: only a server that judges the 5-byte prefix alone can answer.
        var release = new TaskCompletionSource();
        var content = new HeldOpenContent([.. RawGrpc.Header(0, 0xFFFFFFFF), .. new byte[1024]], release.Task, failAfterRelease: false);
        try
        {
            var response = await RawGrpc.SendAsync(RawGrpc.Request(RawGrpc.EchoPath, content));

            Assert.That(response.IsTrailersOnly, Is.True);
            Assert.That(response.GrpcStatus, Is.EqualTo("8"));
            Assert.That(Service.Invocations, Is.Zero);
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Test]
    public async Task A_client_aborting_mid_body_ends_the_call_quietly()
    {
        var release = new TaskCompletionSource();
        var content = new HeldOpenContent([.. RawGrpc.Header(0, 100), 1, 2, 3], release.Task, failAfterRelease: true);
        var send = RawGrpc.SendAsync(RawGrpc.Request(RawGrpc.EchoPath, content));
        await content.FirstBytesSent.Task.WaitAsync(RawGrpc.CallBound);

        release.SetResult();

        Assert.CatchAsync<Exception>(() => send, "the client itself sees its own abort");
        await Logs.WaitForAsync(e => e.EventId.Name == "GrpcCallAborted");
        Assert.That(Service.Invocations, Is.Zero);
        var next = await RawGrpc.SendAsync(RawGrpc.Request(RawGrpc.EchoPath, RawGrpc.Frame(new TestRequest())));
        Assert.That(next.GrpcStatus, Is.EqualTo("0"), "the server keeps serving");
    }

    [TestCase("text/plain")]
    [TestCase("application/json")]
    [TestCase(null)]
    public async Task A_non_gRPC_content_type_on_a_gRPC_method_is_415(string? contentType)
    {
        var response = await RawGrpc.SendAsync(RawGrpc.Request(RawGrpc.EchoPath, RawGrpc.Frame(new TestRequest()), contentType));

        Assert.That(response.Status, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));
        Assert.That(response.Header("grpc-status"), Is.EqualTo("13"));
        Assert.That(Service.Invocations, Is.Zero);
    }

    [TestCase("application/grpc+json")]
    [TestCase("application/grpc-web")]
    public async Task An_unsupported_gRPC_flavour_is_415(string contentType)
    {
        var response = await RawGrpc.SendAsync(RawGrpc.Request(RawGrpc.EchoPath, RawGrpc.Frame(new TestRequest()), contentType));
        Assert.That(response.Status, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));
    }

    [TestCase("application/grpc+proto")]
    [TestCase("Application/GRPC")]
    public async Task Both_protobuf_content_types_are_served(string contentType)
    {
        var response = await RawGrpc.SendAsync(RawGrpc.Request(RawGrpc.EchoPath, RawGrpc.Frame(new TestRequest()), contentType));
        Assert.That(response.Trailer("grpc-status"), Is.EqualTo("0"));
    }

    [Test]
    public async Task Non_gRPC_requests_to_other_paths_go_to_the_next_middleware()
    {
        var response = await RawGrpc.SendAsync(RawGrpc.Request("/healthz", "{}"u8.ToArray(), "application/json"));

        Assert.That(response.Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(System.Text.Encoding.UTF8.GetString(response.Body), Is.EqualTo(WireTestServer.FallbackBody));
    }

    [Test]
    public async Task A_GET_is_405()
    {
        var request = RawGrpc.Request(RawGrpc.EchoPath, RawGrpc.Frame(new TestRequest()));
        request.Method = HttpMethod.Get;

        var response = await RawGrpc.SendAsync(request);

        Assert.That(response.Status, Is.EqualTo(HttpStatusCode.MethodNotAllowed));
        Assert.That(Service.Invocations, Is.Zero);
    }

    [Test]
    public async Task HTTP_1_1_is_refused_with_426_and_a_gRPC_status()
    {
        var request = RawGrpc.Request(RawGrpc.EchoPath, new ByteArrayContent(RawGrpc.Frame(new TestRequest())), version: HttpVersion.Version11);
        request.RequestUri = new Uri(WireTestServer.Http1Address, RawGrpc.EchoPath);
        request.Headers.Remove("te");

        var response = await RawGrpc.SendAsync(request);

        Assert.That(response.Status, Is.EqualTo(HttpStatusCode.UpgradeRequired));
        Assert.That(response.Header("grpc-status"), Is.EqualTo("13"));
        Assert.That(Service.Invocations, Is.Zero);
    }

    [Test]
    public async Task An_unknown_method_is_UNIMPLEMENTED_Trailers_Only()
    {
        var response = await RawGrpc.SendAsync(RawGrpc.Request($"/{TestService.Name}/Nope", RawGrpc.Frame(new TestRequest())));

        Assert.That(response.IsTrailersOnly, Is.True);
        Assert.That(response.GrpcStatus, Is.EqualTo("12"));
    }
}
