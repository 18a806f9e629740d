using System.Buffers;
using System.Text.Json;
using JitBroker.Core;

namespace JitBroker.Attestation;

/// <summary>
/// ROUTING ONLY. Reads <c>iss</c> and <c>sub</c> from a token's payload without verifying anything, so
/// <see cref="Core.IWorkloadAttestor.Accepts"/> can tell a JWT-SVID from an OIDC token. Nothing read here
/// is ever reported or trusted: the chosen attestor validates the token from scratch.
/// </summary>
internal static class UnverifiedPeek
{
    private static readonly SearchValues<char> CompactChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.");

    private static readonly JsonDocumentOptions JsonOptions = new() { MaxDepth = 32 };

    /// <summary>True for a JWS compact shaped token: base64url characters in exactly three segments (a JWE has five).</summary>
    public static bool IsCompactJws(ReadOnlySpan<char> token) =>
        token.Length > 0 && token.Count('.') == 2 && token.IndexOfAnyExcept(CompactChars) < 0;

    /// <summary>The payload's string <c>iss</c> and <c>sub</c>, each null when absent or unreadable; false when the payload is not a JSON object.</summary>
    public static bool TryReadIssuerAndSubject(ReadOnlySpan<char> token, int maxLength, out string? issuer, out string? subject)
    {
        issuer = subject = null;
        if (token.Length > maxLength || !IsCompactJws(token))
        {
            return false;
        }

        var first = token.IndexOf('.');
        var second = first + 1 + token[(first + 1)..].IndexOf('.');
        var encoded = token.Slice(first + 1, second - first - 1);
        // Every request is peeked at: the payload is decoded into a pooled buffer, read once, and wiped on return.
        var rented = ArrayPool<byte>.Shared.Rent(Math.Max(1, System.Buffers.Text.Base64Url.GetMaxDecodedLength(encoded.Length)));
        try
        {
            if (!Base64UrlStrict.TryDecode(encoded, rented, out var written) || !StrictUtf8.IsJsonText(rented.AsSpan(0, written)))
            {
                return false;
            }

            // The document reads the rented bytes in place, so it is disposed before they go back to the pool.
            using var document = JsonDocument.Parse(rented.AsMemory(0, written), JsonOptions);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return false;
            }

            issuer = JsonStrict.OptionalString(document.RootElement, "iss");
            subject = JsonStrict.OptionalString(document.RootElement, "sub");
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented, clearArray: true);
        }
    }
}
