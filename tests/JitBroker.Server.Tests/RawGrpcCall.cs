using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Google.Protobuf;

namespace JitBroker.Server.Tests;

/// <summary>
/// What a raw unary gRPC call got back: HTTP status, grpc-status and jitbroker-reason (trailer or Trailers-Only header),
/// response bytes.
/// </summary>
internal sealed record RawGrpcAnswer(HttpStatusCode Http, string? GrpcStatus, byte[] Body, string? Reason = null);

/// <summary>
/// One unary gRPC call over plain HTTP/2 with headers a gRPC client library would not send as given — here a
/// <c>grpc-timeout</c> that has already run out, which Grpc.Net.Client refuses locally instead of sending — optionally
/// from another loopback address (<c>localAddress</c>), so a test can be a peer of its own for the per-peer rate limit.
/// </summary>
internal static class RawGrpcCall
{
    public static async Task<RawGrpcAnswer> UnaryAsync(Uri server, string path, IMessage message, string bearer, string grpcTimeout,
        string? localAddress = null)
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

        var handler = localAddress is null ? new SocketsHttpHandler() : BoundTo(localAddress);
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(15) };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsByteArrayAsync();
        return new RawGrpcAnswer(response.StatusCode, Trailer(response, "grpc-status"), body, Trailer(response, "jitbroker-reason"));
    }

    private static string? Trailer(HttpResponseMessage response, string name) =>
        response.TrailingHeaders.TryGetValues(name, out var trailer) ? trailer.Single()
            : response.Headers.TryGetValues(name, out var header) ? header.Single() : null; // Trailers-Only

    /// <summary>A handler whose connections leave from <paramref name="localAddress"/>: a distinct peer on loopback.</summary>
    public static SocketsHttpHandler BoundTo(string localAddress) => new()
    {
        EnableMultipleHttp2Connections = true,
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(localAddress), 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };
}
