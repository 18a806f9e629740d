using JitBroker.Core;
using System.Buffers;
using JitBroker.OAuth;
using Microsoft.Net.Http.Headers;

namespace JitBroker.Server.OAuth;

/// <summary>
/// Reads an OAuth endpoint's request strictly: POST with an <c>application/x-www-form-urlencoded</c> body (RFC 6749 §3.2)
/// of at most <see cref="OAuthForm.MaxBodyBytes"/>, parsed by <see cref="OAuthForm"/> (a parameter twice is refused), and
/// at most one <c>DPoP</c> header (RFC 9449 §4.3 check 1). Everything else is an <see cref="OAuthProtocolException"/>.
/// </summary>
internal static class OAuthRequestReader
{
    public const string DpopHeader = "DPoP";

    public static async Task<OAuthForm> ReadFormAsync(HttpContext http, CancellationToken cancellationToken = default)
    {
        var request = http.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
            || !type.MediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase)
            || (type.Charset.HasValue && !type.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase)))
        {
            throw new OAuthProtocolException(OAuthErrors.InvalidRequest, Reasons.OAuth.FormContentType,
                "The request body must be application/x-www-form-urlencoded (UTF-8).");
        }

        if (request.ContentLength > OAuthForm.MaxBodyBytes)
        {
            throw TooLarge();
        }

        // Read at most one byte more than allowed: a body without (or lying about) Content-Length is cut off, not buffered whole.
        var buffer = ArrayPool<byte>.Shared.Rent(OAuthForm.MaxBodyBytes + 1);
        try
        {
            var length = 0;
            while (length <= OAuthForm.MaxBodyBytes)
            {
                var read = await request.Body.ReadAsync(buffer.AsMemory(length, OAuthForm.MaxBodyBytes + 1 - length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            return length > OAuthForm.MaxBodyBytes ? throw TooLarge() : OAuthForm.Parse(buffer.AsSpan(0, length), "resource");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true); // it held an assertion
        }
    }

    /// <summary>The request's DPoP proof, or null when it sent none; two headers are refused.</summary>
    public static string? DpopProof(HttpContext http)
    {
        var values = http.Request.Headers[DpopHeader];
        return values.Count switch
        {
            0 => null,
            1 when !string.IsNullOrEmpty(values[0]) => values[0],
            _ => throw new OAuthProtocolException(OAuthErrors.InvalidDpopProof, Reasons.OAuth.DpopHeaderCount, "Send exactly one DPoP header."),
        };
    }

    /// <summary>The one value of a single-valued form parameter that must be present.</summary>
    public static string Required(OAuthForm form, string name) =>
        form[name] ?? throw new OAuthProtocolException(OAuthErrors.InvalidRequest, Reasons.OAuth.ParameterMissing, $"The '{name}' parameter is required.");

    private static OAuthProtocolException TooLarge() =>
        new(OAuthErrors.InvalidRequest, OAuthReasons.FormTooLarge, $"The request body is larger than {OAuthForm.MaxBodyBytes} bytes.");
}
