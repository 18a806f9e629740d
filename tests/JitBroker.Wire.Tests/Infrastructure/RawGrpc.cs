using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace JitBroker.Wire.Tests.Infrastructure;

/// <summary>What a raw HTTP/2 exchange produced, read completely (body to its end, then trailers).</summary>
internal sealed record RawResponse(HttpStatusCode Status, HttpResponseHeaders Headers, string? ContentType, byte[] Body, HttpResponseHeaders Trailers)
{
    public string? Header(string name) => Headers.TryGetValues(name, out var v) ? string.Join(",", v) : null;

    public string? Trailer(string name) => Trailers.TryGetValues(name, out var v) ? string.Join(",", v) : null;

    /// <summary>True for the Trailers-Only shape: status in the header block, no body, no trailer block.</summary>
    public bool IsTrailersOnly => Header("grpc-status") is not null && Body.Length == 0 && !Trailers.Any();

    /// <summary>The grpc-status wherever the response put it.</summary>
    public string? GrpcStatus => Header("grpc-status") ?? Trailer("grpc-status");

    public string? GrpcMessage => Header("grpc-message") ?? Trailer("grpc-message");
}

/// <summary>Hand-built gRPC requests over HttpClient, for the malformed cases GrpcClient would never send.</summary>
internal static class RawGrpc
{
    public static readonly TimeSpan CallBound = TimeSpan.FromSeconds(10);

    private static readonly HttpClient Http = new(new SocketsHttpHandler()) { Timeout = Timeout.InfiniteTimeSpan };

    public static string EchoPath => $"/{TestService.Name}/Echo";

    public static byte[] Frame(IMessage message) => Frame(0, message.ToByteArray());

    public static byte[] Frame(byte flag, byte[] payload) => [.. Header(flag, (uint)payload.Length), .. payload];

    public static byte[] Header(byte flag, uint length)
    {
        var header = new byte[5];
        header[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(1), length);
        return header;
    }

    public static HttpRequestMessage Request(string path, HttpContent? content, string? contentType = "application/grpc", Version? version = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(WireTestServer.Address, path))
        {
            Version = version ?? HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content ?? new ByteArrayContent([]),
        };
        if (contentType is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        request.Headers.TryAddWithoutValidation("te", "trailers");
        return request;
    }

    public static HttpRequestMessage Request(string path, byte[] body, string? contentType = "application/grpc") =>
        Request(path, new ByteArrayContent(body), contentType);

    /// <summary>Sends and reads everything, failing the test (not hanging) if the server does not finish in time.</summary>
    public static async Task<RawResponse> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken = default)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(CallBound);
        using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, bound.Token);
        var body = await response.Content.ReadAsByteArrayAsync(bound.Token);
        return new RawResponse(response.StatusCode, response.Headers, response.Content.Headers.ContentType?.MediaType, body, response.TrailingHeaders);
    }
}
