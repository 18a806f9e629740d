using System.Globalization;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace JitBroker.Wire;

/// <summary>
/// Turns an HTTP/2 response into the unary result or an <see cref="RpcException"/>, per PROTOCOL-HTTP2.md
/// "Responses": Trailers-Only (status in headers) or headers + one message + trailers. A non-OK status wins
/// over any framing problem, except an over-limit message, which is refused before its bytes are read.
/// </summary>
internal static class UnaryResponseReader
{
    public static async Task<TResponse> ReadAsync<TResponse>(
        HttpResponseMessage response,
        MessageParser<TResponse> parser,
        int maxMessageSize,
        CancellationToken cancellationToken = default)
        where TResponse : IMessage<TResponse>
    {
        var httpStatus = (int)response.StatusCode;
        if (httpStatus != 200)
        {
            // http-grpc-status-mapping.md: use grpc-status when present, else map the HTTP status.
            var (code, detail) = ReadStatus(response.Headers) ?? (MapHttpStatus(httpStatus), null);
            throw new RpcException(code, detail ?? $"Bad gRPC response. HTTP status code: {httpStatus}.", ReadMetadata(response.Headers));
        }

        if (!GrpcProtocol.IsGrpcContentType(response.Content.Headers.ContentType?.MediaType))
        {
            throw new RpcException(StatusCode.Internal, "Bad gRPC response. Invalid content-type.");
        }

        if (ReadStatus(response.Headers) is { } trailersOnly)
        {
            ThrowIfNotOk(trailersOnly, response.Headers);
            throw new RpcException(StatusCode.Internal, "Response did not contain a message.");
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var (payload, compressed, framingError) = await ReadMessageAsync(stream, maxMessageSize, cancellationToken).ConfigureAwait(false);
        using (payload)
        {
            // Trailers are only populated once the body has been read to its end.
            ThrowIfNotOk(ReadStatus(response.TrailingHeaders) ?? (StatusCode.Unknown, "No grpc-status found on response."), response.TrailingHeaders);
            if (framingError is not null)
            {
                throw new RpcException(StatusCode.Internal, framingError);
            }

            if (payload is null)
            {
                throw new RpcException(StatusCode.Internal, "Response did not contain a message.");
            }

            return Decode(parser, payload, compressed, GetEncoding(response.Headers), maxMessageSize);
        }
    }

    /// <summary>
    /// Reads the one message and the end of the stream. Problems found only once the stream has ended are
    /// returned (the trailers may still explain them); anything else is thrown at once.
    /// </summary>
    private static async Task<(PooledBuffer? Payload, bool Compressed, string? FramingError)> ReadMessageAsync(
        Stream stream, int maxMessageSize, CancellationToken cancellationToken)
    {
        var header = new byte[MessageFraming.HeaderLength];
        var read = await stream.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            return (null, false, null);
        }

        if (read < header.Length)
        {
            return (null, false, "Incomplete message.");
        }

        var (flag, length) = MessageFraming.ReadHeader(header);
        if (flag > 1)
        {
            throw new RpcException(StatusCode.Internal, "Invalid Compressed-Flag value.");
        }

        if (length > (uint)maxMessageSize)
        {
            throw new RpcException(StatusCode.ResourceExhausted, MessageFraming.ReceiveLimitExceeded);
        }

        var payload = new PooledBuffer((int)length);
        try
        {
            var got = await stream.ReadAtLeastAsync(payload.GetFreeMemory((int)length), (int)length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            payload.Advance(got);
            if (got < length)
            {
                payload.Dispose();
                return (null, false, "Incomplete message.");
            }

            // Read to the end so the trailers arrive; refuse a second message or garbage without reading it all.
            if (await stream.ReadAsync(header.AsMemory(0, 1), cancellationToken).ConfigureAwait(false) > 0)
            {
                throw new RpcException(StatusCode.Internal, "Additional data after the message received.");
            }

            return (payload, flag == 1, null);
        }
        catch
        {
            payload.Dispose();
            throw;
        }
    }

    private static TResponse Decode<TResponse>(MessageParser<TResponse> parser, PooledBuffer payload, bool compressed, string? encoding, int maxMessageSize)
        where TResponse : IMessage<TResponse>
    {
        try
        {
            if (!compressed)
            {
                return parser.ParseFrom(payload.Memory.Span);
            }

            if (GrpcProtocol.IsIdentity(encoding))
            {
                throw new RpcException(StatusCode.Internal, "Compressed-Flag is set but the response has no grpc-encoding.");
            }

            if (!GrpcProtocol.IsGzip(encoding))
            {
                // compression.md: a server compression the client does not support → INTERNAL.
                throw new RpcException(StatusCode.Internal, "Unsupported grpc-encoding in response. Supported encodings: identity, gzip.");
            }

            var compressedBytes = new System.Buffers.ReadOnlySequence<byte>(payload.Memory);
            using var inflated = MessageFraming.Gunzip(compressedBytes, maxMessageSize);
            return parser.ParseFrom(inflated.Memory.Span);
        }
        catch (InvalidProtocolBufferException)
        {
            throw new RpcException(StatusCode.Internal, "Failed to parse the response message.");
        }
    }

    private static void ThrowIfNotOk((StatusCode Code, string? Detail) status, HttpHeaders source)
    {
        if (status.Code != StatusCode.OK)
        {
            throw new RpcException(status.Code, status.Detail ?? string.Empty, ReadMetadata(source));
        }
    }

    private static (StatusCode Code, string? Detail)? ReadStatus(HttpHeaders headers)
    {
        if (!headers.TryGetValues(GrpcProtocol.StatusHeader, out var values))
        {
            return null;
        }

        var detail = headers.TryGetValues(GrpcProtocol.MessageHeader, out var messages) ? PercentEncoding.Decode(messages.First()) : null;
        var text = values.First();
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var code) && code is >= 0 and <= 16)
        {
            return ((StatusCode)code, detail);
        }

        // statuscodes.md: "Error parsing returned status" → UNKNOWN.
        return (StatusCode.Unknown, "Invalid grpc-status value in response.");
    }

    private static Metadata ReadMetadata(HttpHeaders headers)
    {
        var metadata = new Metadata();
        foreach (var (key, values) in headers)
        {
            var lowercase = key.ToLowerInvariant();
            if (GrpcProtocol.IsTransportHeader(lowercase))
            {
                continue;
            }

            foreach (var value in values)
            {
                metadata.AddReceived(lowercase, value);
            }
        }

        return metadata;
    }

    private static string? GetEncoding(HttpHeaders headers) =>
        headers.TryGetValues(GrpcProtocol.EncodingHeader, out var values) ? values.First() : null;

    /// <summary>http-grpc-status-mapping.md, for responses without grpc-status.</summary>
    private static StatusCode MapHttpStatus(int httpStatus) => httpStatus switch
    {
        400 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        431 => StatusCode.Internal,
        _ => StatusCode.Unknown,
    };
}
