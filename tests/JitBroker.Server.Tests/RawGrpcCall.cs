using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace JitBroker.Server.Tests;

/// <summary>What a raw unary gRPC call got back: HTTP status, grpc-status (trailer or Trailers-Only header), response bytes.</summary>
internal sealed record RawGrpcAnswer(HttpStatusCode Http, string? GrpcStatus, byte[] Body);

/// <summary>
/// One unary gRPC call over plain HTTP/2 with headers a gRPC client library would not send as given — here a
/// <c>grpc-timeout</c> that has already run out, which Grpc.Net.Client refuses locally instead of sending.
/// </summary>
internal static class RawGrpcCall
{
    public static async Task<RawGrpcAnswer> UnaryAsync(Uri server, string path, IMessage message, string bearer, string grpcTimeout)
    {
        var bytes = message.ToByteArray();
        var frame = new byte[5 + bytes.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)bytes.Length);
        bytes.CopyTo(frame, 5);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server, path))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(frame),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        request.Headers.TryAddWithoutValidation("grpc-timeout", grpcTimeout);

        using var http = new HttpClient(new SocketsHttpHandler()) { Timeout = TimeSpan.FromSeconds(15) };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsByteArrayAsync();
        var status = response.TrailingHeaders.TryGetValues("grpc-status", out var trailer) ? trailer.Single()
            : response.Headers.TryGetValues("grpc-status", out var header) ? header.Single() : null; // Trailers-Only
        return new RawGrpcAnswer(response.StatusCode, status, body);
    }
}
