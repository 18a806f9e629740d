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
    private const string SpiffeScheme = "spiffe:";

    private static readonly SearchValues<char> CompactChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.");

    private static readonly JsonReaderOptions JsonOptions = new() { MaxDepth = 32 };

    /// <summary>What one peek reads: each attestor asks only what it routes by.</summary>
    private enum Members
    {
        Issuer,

        /// <summary>Only whether <c>sub</c> starts with <c>spiffe:</c>: the subject comes back as a non-null marker when it does.</summary>
        SpiffeSubject,
    }

    /// <summary>True for a JWS compact shaped token: base64url characters in exactly three segments (a JWE has five).</summary>
    public static bool IsCompactJws(ReadOnlySpan<char> token) =>
        token.Length > 0 && token.Count('.') == 2 && token.IndexOfAnyExcept(CompactChars) < 0;

    /// <summary>
    /// The payload's string <c>iss</c> (what the OIDC attestor routes by), null when absent or not a string; false when the
    /// payload is not a JSON object.
    /// </summary>
    public static bool TryReadIssuer(ReadOnlySpan<char> token, int maxLength, out string? issuer) =>
        TryRead(token, maxLength, Members.Issuer, out issuer, out _);

    /// <summary>
    /// True when the payload's string <c>sub</c> starts with <c>spiffe:</c> in any case (what the JWT-SVID attestor routes
    /// by), read in place unless the value is escaped; false also for a payload that is not a JSON object.
    /// </summary>
    public static bool SubjectHasSpiffeScheme(ReadOnlySpan<char> token, int maxLength) =>
        TryRead(token, maxLength, Members.SpiffeSubject, out _, out var subject) && subject is not null;

    private static bool TryRead(ReadOnlySpan<char> token, int maxLength, Members members, out string? issuer, out string? subject)
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

            return TryReadMembers(rented.AsSpan(0, written), members, out issuer, out subject);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented, clearArray: true);
        }
    }

    /// <summary>
    /// Reads the whole payload (a syntax error anywhere refuses it, as parsing a document would) without building one:
    /// only the top-level member asked for is looked at (<c>iss</c> becomes a string, <c>sub</c> a yes or no). A repeated
    /// member counts as its last occurrence, as
    /// <see cref="JsonElement.TryGetProperty(string, out JsonElement)"/> reads it; a member that is not a string is null.
    /// <see cref="StrictUtf8.IsJsonText"/> has already refused what <c>GetString</c> could not read (an escaped lone surrogate).
    /// </summary>
    private static bool TryReadMembers(ReadOnlySpan<byte> json, Members members, out string? issuer, out string? subject)
    {
        issuer = subject = null;
        var reader = new Utf8JsonReader(json, JsonOptions);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != 1)
                {
                    continue;
                }

                var wanted = members == Members.Issuer ? reader.ValueTextEquals("iss"u8) : reader.ValueTextEquals("sub"u8);
                reader.Read();
                if (wanted && members == Members.Issuer)
                {
                    issuer = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (wanted)
                {
                    subject = reader.TokenType == JsonTokenType.String && HasSpiffeScheme(ref reader) ? SpiffeScheme : null;
                }
            }

            return true;
        }
        catch (JsonException)
        {
            issuer = subject = null;
            return false;
        }
    }

    /// <summary>The current string value starts with <c>spiffe:</c>, any case: compared on the raw bytes unless escaped.</summary>
    private static bool HasSpiffeScheme(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped || reader.HasValueSequence)
        {
            return reader.GetString()!.StartsWith(SpiffeScheme, StringComparison.OrdinalIgnoreCase);
        }

        var value = reader.ValueSpan;
        return value.Length >= SpiffeScheme.Length && System.Text.Ascii.EqualsIgnoreCase(value[..SpiffeScheme.Length], SpiffeScheme);
    }
}
