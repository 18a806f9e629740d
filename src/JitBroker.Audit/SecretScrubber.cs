using System.Buffers;
using System.Text.RegularExpressions;
using JitBroker.Core;

namespace JitBroker.Audit;

/// <summary>
/// Last line of defence for "never a secret in the audit": callers already pass fingerprints, but free-text
/// members (detail, purpose, context) come from agents and operators. Anything shaped like a bearer
/// credential — a compact JWS/JWT, a Vault token, a PEM private key — is replaced by its SHA-256
/// fingerprint before the record is hashed, so the stored chain never held it.
/// </summary>
internal static partial class SecretScrubber
{
    /// <summary>Longest string kept in a record; longer ones are cut (after scrubbing) and carry the full value's fingerprint.</summary>
    public const int MaxStringLength = 8192;

    // A literal every alternative of CredentialShaped but the "s." / "b." / "r." one contains (see MayHoldCredential).
    private static readonly SearchValues<string> Markers =
        SearchValues.Create(["eyJ", "hvs.", "hvb.", "hvr.", "-----BEGIN ", "earer"], StringComparison.Ordinal);

    /// <summary>Returns <paramref name="value"/> with every credential-shaped substring replaced by <c>[redacted sha256:…]</c>.</summary>
    public static string Scrub(string value)
    {
        var text = CanonicalJson.WellFormed(value);
        var scrubbed = text;
        if (text.Length >= 8 && MayHoldCredential(text))
        {
            try
            {
                scrubbed = CredentialShaped().Replace(text, m => "[redacted " + Fingerprints.Of(m.Value) + "]");
            }
            catch (RegexMatchTimeoutException)
            {
                // Text built to stall the scan is not written unscanned: only its fingerprint is.
                return "[unscanned " + Fingerprints.Of(text) + "]";
            }
        }

        // A multi-megabyte detail would bloat every copy of the log; the fingerprint keeps it correlatable.
        return scrubbed.Length <= MaxStringLength
            ? scrubbed
            : scrubbed[..MaxStringLength] + "…[truncated " + Fingerprints.Of(scrubbed) + "]";
    }

    /// <summary>
    /// False only when <see cref="CredentialShaped"/> cannot match <paramref name="text"/>: each of its alternatives
    /// contains a literal this looks for ("eyJ", "hvs." / "hvb." / "hvr.", "-----BEGIN ", "earer") or "s." / "b." / "r."
    /// after something that is not an ASCII letter, digit or '_' (the regex's <c>\b</c> needs a non-word character there;
    /// treating every other character as one can only make this say true more often). Why: the regex scans every position
    /// of every free-text member, ~3 % of the broker's CPU per RequestCredential in a profile (docs/benchmarks.md), and
    /// almost no agent id, tool or purpose holds any of these.
    /// </summary>
    internal static bool MayHoldCredential(ReadOnlySpan<char> text)
    {
        if (text.IndexOfAny(Markers) >= 0)
        {
            return true;
        }

        for (var dot = text.IndexOf('.'); dot >= 0; dot = NextDot(text, dot))
        {
            if (dot >= 1 && (text[dot - 1] is 's' or 'b' or 'r') && (dot == 1 || !IsAsciiWordChar(text[dot - 2])))
            {
                return true;
            }
        }

        return false;

        static int NextDot(ReadOnlySpan<char> text, int dot)
        {
            var next = text[(dot + 1)..].IndexOf('.');
            return next < 0 ? -1 : dot + 1 + next;
        }

        static bool IsAsciiWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';
    }

    /// <summary>A credential fingerprint must be <c>sha256:</c> + 64 hex digits; anything else is fingerprinted, since it may be the credential itself.</summary>
    public static string Fingerprint(string value) =>
        FingerprintShape().IsMatch(value) ? value : Fingerprints.Of(value);

    // JWS/JWT compact (header always starts with base64url('{"') = "eyJ"), Vault service/batch/recovery tokens
    // (current hv?. — wherever it starts, so one glued to a word is redacted too — and legacy s./b./r. forms, which
    // need a word boundary or ordinary words would be cut), PEM private keys, and "Bearer <token>".
    [GeneratedRegex(
        @"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)?" +
        @"|hv[sbr]\.[A-Za-z0-9_-]{20,}" +
        @"|\b[sbr]\.[A-Za-z0-9]{24}\b" +
        @"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)" +
        @"|(?<=\b[Bb]earer\s+)[A-Za-z0-9._~+/=-]{16,}",
        RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    internal static partial Regex CredentialShaped();

    [GeneratedRegex("^sha256:[0-9a-f]{64}$", RegexOptions.CultureInvariant)]
    private static partial Regex FingerprintShape();
}
