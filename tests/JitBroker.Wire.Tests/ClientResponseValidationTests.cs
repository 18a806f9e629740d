using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using JitBroker.Testing;
using Microsoft.Extensions.Time.Testing;
using JitBroker.Wire.Tests.Infrastructure;
using JitBroker.Wire.Tests.Proto;
using Moq;
using Moq.Protected;

namespace JitBroker.Wire.Tests;

/// <summary>
/// The client against responses our server would never send (a proxy, a broken peer): driven through a mocked
/// HttpMessageHandler, which also lets us inspect exactly what the client put on the wire.
/// </summary>
public sealed class ClientResponseValidationTests
{
    private static readonly Uri Address = new("http://127.0.0.1:1");

    [Test]
    public async Task The_request_carries_the_gRPC_call_definition_headers_and_one_framed_message()
    {
        HttpRequestMessage? sent = null;
        byte[]? body = null;
        var clock = TestClock.Create();
        var handler = MockHandler(async request =>
        {
            sent = request;
            body = await request.Content!.ReadAsByteArrayAsync();
            return Ok(RawGrpc.Frame(new TestResponse { Text = "ok" }));
        });
        using var client = new GrpcClient(Address, new GrpcClientOptions { Handler = handler, TimeProvider = clock });

        var response = await client.CallUnaryAsync(TestService.Name, "Echo", new TestRequest { Text = "in" }, TestResponse.Parser,
            new CallOptions(new Metadata { { "authorization", "Bearer x" } }, clock.GetUtcNow().AddMilliseconds(1500)));

        Assert.That(response.Text, Is.EqualTo("ok"));
        Assert.Multiple(() =>
        {
            Assert.That(sent!.Method, Is.EqualTo(HttpMethod.Post));
            Assert.That(sent.Version, Is.EqualTo(HttpVersion.Version20));
            Assert.That(sent.VersionPolicy, Is.EqualTo(HttpVersionPolicy.RequestVersionExact));
            Assert.That(sent.RequestUri!.AbsolutePath, Is.EqualTo($"/{TestService.Name}/Echo"));
            Assert.That(sent.Content!.Headers.ContentType!.MediaType, Is.EqualTo("application/grpc"));
            Assert.That(Header(sent, "te"), Is.EqualTo("trailers"));
            Assert.That(Header(sent, "grpc-accept-encoding"), Is.EqualTo("identity,gzip"));
            Assert.That(Header(sent, "user-agent"), Is.EqualTo("jitbroker-wire/1.0"));
            Assert.That(Header(sent, "grpc-timeout"), Is.EqualTo("1500000u"));
            Assert.That(Header(sent, "authorization"), Is.EqualTo("Bearer x"));
            Assert.That(body, Is.EqualTo(RawGrpc.Frame(new TestRequest { Text = "in" })));
        });
    }

    [Test]
    public async Task A_gzip_compressed_response_is_decompressed()
    {
        var message = new TestResponse { Text = "zipped" }.ToByteArray();
        var response = Ok(RawGrpc.Frame(1, Gzip(message)));
        response.Headers.TryAddWithoutValidation("grpc-encoding", "gzip");

        var result = await CallAsync(response);

        Assert.That(result.Text, Is.EqualTo("zipped"));
    }

    [Test]
    public void A_gzip_bomb_response_is_RESOURCE_EXHAUSTED()
    {
        var response = Ok(RawGrpc.Frame(1, Gzip(new byte[8 * 1024 * 1024])));
        response.Headers.TryAddWithoutValidation("grpc-encoding", "gzip");

        AssertStatus(response, StatusCode.ResourceExhausted);
    }

    [Test]
    public void Trailers_Only_errors_are_read_from_the_headers_with_their_metadata()
    {
        var response = Ok([], status: null);
        response.Headers.TryAddWithoutValidation("grpc-status", "7");
        response.Headers.TryAddWithoutValidation("grpc-message", "caf%C3%A9 100%25 %ZZ");
        response.Headers.TryAddWithoutValidation("jitbroker-reason", "policy.denied");

        var ex = AssertStatus(response, StatusCode.PermissionDenied);

        Assert.That(ex.Detail, Is.EqualTo("café 100% %ZZ"), "broken escapes are kept, not fatal");
        Assert.That(ex.Trailers.Get("jitbroker-reason"), Is.EqualTo("policy.denied"));
    }

    [Test]
    public void A_status_in_the_trailers_wins_over_a_missing_message()
    {
        var response = Ok([], status: "14");
        AssertStatus(response, StatusCode.Unavailable);
    }

    [TestCase(HttpStatusCode.NotFound, StatusCode.Unimplemented)]
    [TestCase(HttpStatusCode.ServiceUnavailable, StatusCode.Unavailable)]
    [TestCase(HttpStatusCode.Unauthorized, StatusCode.Unauthenticated)]
    [TestCase(HttpStatusCode.Forbidden, StatusCode.PermissionDenied)]
    [TestCase(HttpStatusCode.TooManyRequests, StatusCode.Unavailable)]
    [TestCase(HttpStatusCode.BadRequest, StatusCode.Internal)]
    [TestCase(HttpStatusCode.InternalServerError, StatusCode.Unknown)]
    public void A_non_200_response_without_grpc_status_is_mapped_per_spec(HttpStatusCode http, StatusCode expected)
    {
        var response = new HttpResponseMessage(http) { Content = new StringContent("<html>proxy error</html>") };
        AssertStatus(response, expected);
    }

    [Test]
    public void A_non_200_response_with_grpc_status_uses_it()
    {
        var response = new HttpResponseMessage(HttpStatusCode.UnsupportedMediaType) { Content = new ByteArrayContent([]) };
        response.Headers.TryAddWithoutValidation("grpc-status", "13");
        AssertStatus(response, StatusCode.Internal);
    }

    [Test]
    public void A_200_response_that_is_not_gRPC_is_INTERNAL()
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("<html/>", null, "text/html") };
        AssertStatus(response, StatusCode.Internal);
    }

    [TestCase(null, StatusCode.Unknown, TestName = "Missing grpc-status")]
    [TestCase("abc", StatusCode.Unknown, TestName = "Unparseable grpc-status")]
    [TestCase("99", StatusCode.Unknown, TestName = "Out-of-range grpc-status")]
    public void A_bad_or_missing_status_is_UNKNOWN(string? status, StatusCode expected) =>
        AssertStatus(Ok(RawGrpc.Frame(new TestResponse())), expected, status);

    [TestCase(new byte[] { 0, 0, 0 }, TestName = "Truncated response prefix")]
    [TestCase(new byte[] { 0, 0, 0, 0, 9, 1 }, TestName = "Truncated response message")]
    [TestCase(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, TestName = "Two response messages")]
    [TestCase(new byte[] { 2, 0, 0, 0, 0 }, TestName = "Invalid response Compressed-Flag")]
    [TestCase(new byte[] { 1, 0, 0, 0, 1, 0 }, TestName = "Compressed response without grpc-encoding")]
    [TestCase(new byte[] { 0, 0, 0, 0, 2, 0xFF, 0xFF }, TestName = "Response that is not protobuf")]
    [TestCase(new byte[0], TestName = "OK without a message")]
    public void Malformed_response_framing_is_INTERNAL(byte[] body) =>
        AssertStatus(Ok(body), StatusCode.Internal);

    private static RpcException AssertStatus(HttpResponseMessage response, StatusCode expected, string? trailerStatus = "keep")
    {
        if (trailerStatus != "keep")
        {
            response.TrailingHeaders.Remove("grpc-status");
            if (trailerStatus is not null)
            {
                response.TrailingHeaders.TryAddWithoutValidation("grpc-status", trailerStatus);
            }
        }

        var ex = Assert.ThrowsAsync<RpcException>(() => CallAsync(response));
        Assert.That(ex!.StatusCode, Is.EqualTo(expected), ex.Detail);
        return ex;
    }

    private static async Task<TestResponse> CallAsync(HttpResponseMessage response)
    {
        using var client = new GrpcClient(Address, new GrpcClientOptions { Handler = MockHandler(_ => Task.FromResult(response)) });
        return await client.CallUnaryAsync(TestService.Name, "Echo", new TestRequest(), TestResponse.Parser);
    }

    private static HttpResponseMessage Ok(byte[] body, string? status = "0")
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(body), Version = HttpVersion.Version20 };
        response.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        if (status is not null)
        {
            response.TrailingHeaders.TryAddWithoutValidation("grpc-status", status);
        }

        return response;
    }

    private static HttpMessageHandler MockHandler(Func<HttpRequestMessage, Task<HttpResponseMessage>> respond)
    {
        var handler = new Mock<HttpMessageHandler>(MockBehavior.Strict);
        handler.Protected()
            .Setup<Task<HttpResponseMessage>>("SendAsync", ItExpr.IsAny<HttpRequestMessage>(), ItExpr.IsAny<CancellationToken>())
            .Returns((HttpRequestMessage request, CancellationToken _) => respond(request));
        return handler.Object;
    }

    private static string? Header(HttpRequestMessage request, string name) =>
        request.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

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
