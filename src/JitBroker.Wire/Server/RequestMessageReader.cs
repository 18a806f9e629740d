using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;

namespace JitBroker.Wire;

/// <summary>
/// Reads the single request message of a unary call straight from Kestrel's body pipe. The payload is parsed
/// in place (no copy) and the buffered bytes never exceed the declared length + 5 + one read: an oversized
/// length prefix is rejected from the 5-byte header alone, and bytes past the message are rejected as soon
/// as they arrive.
/// </summary>
internal static class RequestMessageReader
{
    /// <exception cref="RpcException">A protocol violation, with the status to answer.</exception>
    /// <exception cref="IOException">The client reset the stream or the connection broke.</exception>
    /// <exception cref="OperationCanceledException">The call's token was cancelled (deadline or abort).</exception>
    public static async ValueTask<IMessage> ReadAsync(
        PipeReader reader,
        IUnaryMethod method,
        string? grpcEncoding,
        int maxMessageSize,
        CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var consumed = buffer.Start;
            try
            {
                if (result.IsCanceled)
                {
                    throw new OperationCanceledException("The request body read was cancelled.");
                }

                if (TryGetPayload(buffer, result.IsCompleted, grpcEncoding, maxMessageSize, out var payload, out var compressed))
                {
                    consumed = buffer.End;
                    return Decode(method, payload, compressed, maxMessageSize);
                }
            }
            finally
            {
                reader.AdvanceTo(consumed, buffer.End);
            }
        }
    }

    private static bool TryGetPayload(
        ReadOnlySequence<byte> buffer,
        bool isCompleted,
        string? grpcEncoding,
        int maxMessageSize,
        out ReadOnlySequence<byte> payload,
        out bool compressed)
    {
        payload = default;
        compressed = false;
        if (buffer.Length < MessageFraming.HeaderLength)
        {
            return isCompleted
                ? throw new RpcException(StatusCode.Internal, buffer.Length == 0 ? "Request did not contain a message." : "Incomplete message.")
                : false;
        }

        var (flag, length) = MessageFraming.ReadHeader(buffer);
        CheckHeader(flag, length, grpcEncoding, maxMessageSize);
        var frameLength = MessageFraming.HeaderLength + (long)length;
        if (buffer.Length > frameLength)
        {
            throw new RpcException(StatusCode.Internal, "Additional data after the message received.");
        }

        if (!isCompleted)
        {
            return false; // need the rest of the message, and END_STREAM to know nothing follows it
        }

        if (buffer.Length < frameLength)
        {
            throw new RpcException(StatusCode.Internal, "Incomplete message.");
        }

        payload = buffer.Slice(MessageFraming.HeaderLength, length);
        compressed = flag == 1;
        return true;
    }

    private static void CheckHeader(byte flag, uint length, string? grpcEncoding, int maxMessageSize)
    {
        if (flag > 1)
        {
            throw new RpcException(StatusCode.Internal, "Invalid Compressed-Flag value.");
        }

        if (length > (uint)maxMessageSize)
        {
            throw new RpcException(StatusCode.ResourceExhausted, MessageFraming.ReceiveLimitExceeded);
        }

        if (flag == 1)
        {
            if (GrpcProtocol.IsIdentity(grpcEncoding))
            {
                // compression.md test case 6: Compressed-Flag set without a grpc-encoding → INTERNAL.
                throw new RpcException(StatusCode.Internal, "Compressed-Flag is set but no grpc-encoding was sent.");
            }

            if (!GrpcProtocol.IsGzip(grpcEncoding))
            {
                // compression.md: unsupported algorithm → UNIMPLEMENTED, grpc-accept-encoding lists ours.
                throw new RpcException(StatusCode.Unimplemented, "Unsupported grpc-encoding. Supported encodings: identity, gzip.");
            }
        }
    }

    private static IMessage Decode(IUnaryMethod method, ReadOnlySequence<byte> payload, bool compressed, int maxMessageSize)
    {
        try
        {
            if (!compressed)
            {
                return method.Parse(payload);
            }

            using var inflated = MessageFraming.Gunzip(payload, maxMessageSize);
            return method.Parse(new ReadOnlySequence<byte>(inflated.Memory));
        }
        catch (InvalidProtocolBufferException)
        {
            throw new RpcException(StatusCode.InvalidArgument, "Failed to parse the request message.");
        }
    }
}
