using Google.Protobuf;
using Microsoft.AspNetCore.Http;

namespace JitBroker.Wire;

/// <summary>Writes the three response shapes of PROTOCOL-HTTP2.md "Responses" onto Kestrel.</summary>
internal static class GrpcResponseWriter
{
    /// <summary>Response-Headers, one Length-Prefixed-Message (uncompressed), Trailers with grpc-status 0.</summary>
    public static async Task WriteMessageAsync(HttpResponse response, IMessage message, int size, Metadata? trailers)
    {
        SetResponseHeaders(response);
        if (trailers is not null)
        {
            foreach (var (key, value) in trailers)
            {
                response.AppendTrailer(key, value);
            }
        }

        response.AppendTrailer(GrpcProtocol.StatusHeader, "0");

        var writer = response.BodyWriter;
        MessageFraming.WriteHeader(writer.GetSpan(MessageFraming.HeaderLength), size);
        writer.Advance(MessageFraming.HeaderLength);
        message.WriteTo(writer);
        await response.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Ends the call with a status. Before anything was sent this is Trailers-Only: the status rides in the
    /// response HEADERS frame with END_STREAM (Kestrel sends exactly that for headers and no body).
    /// </summary>
    public static async Task WriteStatusAsync(HttpResponse response, StatusCode code, string detail, Metadata? first = null, Metadata? second = null)
    {
        var trailersOnly = !response.HasStarted;
        if (trailersOnly)
        {
            SetResponseHeaders(response);
        }

        void Add(string key, string value)
        {
            if (trailersOnly)
            {
                response.Headers.Append(key, value);
            }
            else
            {
                response.AppendTrailer(key, value);
            }
        }

        foreach (var (key, value) in (first ?? []).Concat(second ?? []))
        {
            Add(key, value);
        }

        Add(GrpcProtocol.StatusHeader, StatusText(code));
        if (detail.Length > 0)
        {
            Add(GrpcProtocol.MessageHeader, PercentEncoding.Encode(detail));
        }

        await response.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// A non-200 answer for requests that are not valid gRPC calls (wrong content type, method or protocol),
    /// so a generic HTTP client does not mistake it for success; grpc-status is added for gRPC clients.
    /// </summary>
    public static Task WriteHttpErrorAsync(HttpResponse response, int httpStatus, string detail)
    {
        response.StatusCode = httpStatus;
        response.Headers[GrpcProtocol.StatusHeader] = StatusText(StatusCode.Internal);
        response.Headers[GrpcProtocol.MessageHeader] = PercentEncoding.Encode(detail);
        return Task.CompletedTask;
    }

    private static void SetResponseHeaders(HttpResponse response)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = GrpcProtocol.ContentType;
        response.Headers[GrpcProtocol.AcceptEncodingHeader] = GrpcProtocol.SupportedEncodings;
    }

    private static string StatusText(StatusCode code) => ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
