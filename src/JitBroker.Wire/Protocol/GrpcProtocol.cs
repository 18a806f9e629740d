namespace JitBroker.Wire;

/// <summary>Header names and values from grpc/grpc doc/PROTOCOL-HTTP2.md.</summary>
internal static class GrpcProtocol
{
    public const string ContentType = "application/grpc";
    public const string ProtoContentType = "application/grpc+proto";
    public const string StatusHeader = "grpc-status";
    public const string MessageHeader = "grpc-message";
    public const string TimeoutHeader = "grpc-timeout";
    public const string EncodingHeader = "grpc-encoding";
    public const string AcceptEncodingHeader = "grpc-accept-encoding";
    public const string SupportedEncodings = "identity,gzip";
    public const string IdentityEncoding = "identity";
    public const string GzipEncoding = "gzip";
    public const string UserAgent = "jitbroker-wire/1.0";

    /// <summary>HTTP/2 RST_STREAM NO_ERROR, sent after an early server close (spec "Early Server Closure").</summary>
    public const int ResetStreamNoError = 0;

    /// <summary>True when the media type begins with <c>application/grpc</c> (the spec's 415 test).</summary>
    public static bool IsGrpcContentType(string? contentType) =>
        contentType is not null && contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase);

    /// <summary>True for the two content types this layer speaks: protobuf, with or without the suffix.</summary>
    public static bool IsSupportedContentType(string? contentType)
    {
        if (contentType is null)
        {
            return false;
        }

        var semicolon = contentType.IndexOf(';', StringComparison.Ordinal);
        var mediaType = (semicolon < 0 ? contentType : contentType[..semicolon]).Trim();
        return mediaType.Equals(ContentType, StringComparison.OrdinalIgnoreCase)
            || mediaType.Equals(ProtoContentType, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Encoding value means "not compressed" (absent or identity).</summary>
    public static bool IsIdentity(string? encoding) =>
        string.IsNullOrEmpty(encoding) || encoding.Equals(IdentityEncoding, StringComparison.OrdinalIgnoreCase);

    public static bool IsGzip(string? encoding) =>
        encoding is not null && encoding.Trim().Equals(GzipEncoding, StringComparison.OrdinalIgnoreCase);

    /// <summary>Headers that describe the call itself and never belong in application metadata.</summary>
    public static bool IsTransportHeader(string lowercaseKey) =>
        lowercaseKey.StartsWith(':') || Metadata.IsReservedKey(lowercaseKey)
        || lowercaseKey is "date" or "server" or "accept-encoding";
}
