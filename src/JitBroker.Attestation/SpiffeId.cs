using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace JitBroker.Attestation;

/// <summary>
/// A SPIFFE ID parsed strictly by the SPIFFE-ID specification (§2): scheme exactly <c>spiffe://</c>,
/// a non-empty lowercase trust domain of <c>[a-z0-9.-_]</c> (at most 255 bytes) with no userinfo or port,
/// and an optional path of non-empty segments of <c>[A-Za-z0-9.-_]</c> that are not <c>.</c> or <c>..</c>,
/// with no trailing slash, no percent-encoding, no query and no fragment; 2048 bytes in all.
/// Anything a lenient URI parser would normalise is refused instead, so two spellings can never name
/// one workload.
/// </summary>
/// <param name="TrustDomain">The trust domain name, for example <c>example.org</c>.</param>
/// <param name="Path">The path including its leading <c>/</c>, or empty for the trust domain's own ID.</param>
public readonly record struct SpiffeId(string TrustDomain, string Path)
{
    public const string Scheme = "spiffe://";
    public const int MaxLength = 2048;
    public const int MaxTrustDomainLength = 255;

    private static readonly SearchValues<char> TrustDomainChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789.-_");

    private static readonly SearchValues<char> SegmentChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_");

    /// <summary>Parses <paramref name="value"/>; on failure <paramref name="error"/> says which rule was broken (without echoing the value).</summary>
    public static bool TryParse([NotNullWhen(true)] string? value, out SpiffeId id, out string error)
    {
        id = default;
        if (string.IsNullOrEmpty(value))
        {
            return Fail("the SPIFFE ID is empty", out error);
        }

        // Every valid character is ASCII, so the character count is the byte count.
        if (value.Length > MaxLength)
        {
            return Fail($"the SPIFFE ID is longer than {MaxLength} bytes", out error);
        }

        if (!value.StartsWith(Scheme, StringComparison.Ordinal))
        {
            return Fail("the scheme must be 'spiffe://' in lowercase", out error);
        }

        var rest = value.AsSpan(Scheme.Length);
        var slash = rest.IndexOf('/');
        var trustDomain = slash < 0 ? rest : rest[..slash];
        if (!IsValidTrustDomain(trustDomain, out error))
        {
            return false;
        }

        var path = slash < 0 ? [] : rest[slash..];
        if (!IsValidPath(path, out error))
        {
            return false;
        }

        id = new SpiffeId(trustDomain.ToString(), path.ToString());
        error = "";
        return true;
    }

    /// <summary>True when <paramref name="name"/> is a valid trust domain name (SPIFFE-ID §2.1).</summary>
    public static bool IsValidTrustDomain(string? name, out string error) => IsValidTrustDomain(name.AsSpan(), out error);

    /// <summary>The canonical string form, <c>spiffe://trust-domain/path</c>.</summary>
    public override string ToString() => Scheme + TrustDomain + Path;

    private static bool IsValidTrustDomain(ReadOnlySpan<char> name, out string error)
    {
        if (name.IsEmpty)
        {
            return Fail("the trust domain is empty", out error);
        }

        if (name.Length > MaxTrustDomainLength)
        {
            return Fail($"the trust domain is longer than {MaxTrustDomainLength} bytes", out error);
        }

        var bad = name.IndexOfAnyExcept(TrustDomainChars);
        if (bad >= 0)
        {
            return Fail(name[bad] switch
            {
                ':' => "the trust domain must not carry a port",
                '@' => "the trust domain must not carry userinfo",
                '%' => "the trust domain must not be percent-encoded",
                '?' => "a SPIFFE ID must not have a query",
                '#' => "a SPIFFE ID must not have a fragment",
                >= 'A' and <= 'Z' => "the trust domain must be lowercase",
                _ => "the trust domain may contain only [a-z0-9.-_]",
            }, out error);
        }

        error = "";
        return true;
    }

    private static bool IsValidPath(ReadOnlySpan<char> path, out string error)
    {
        // path is empty or starts with '/': each '/' opens a segment that must be non-empty.
        while (!path.IsEmpty)
        {
            path = path[1..];
            var next = path.IndexOf('/');
            var segment = next < 0 ? path : path[..next];
            if (segment.IsEmpty)
            {
                return Fail(next < 0 ? "the path must not end with '/'" : "the path must not contain empty segments", out error);
            }

            if (segment is "." or "..")
            {
                return Fail("the path must not contain '.' or '..' segments", out error);
            }

            var bad = segment.IndexOfAnyExcept(SegmentChars);
            if (bad >= 0)
            {
                return Fail(segment[bad] switch
                {
                    '%' => "the path must not be percent-encoded",
                    '?' => "a SPIFFE ID must not have a query",
                    '#' => "a SPIFFE ID must not have a fragment",
                    _ => "path segments may contain only [A-Za-z0-9.-_]",
                }, out error);
            }

            path = next < 0 ? [] : path[next..];
        }

        error = "";
        return true;
    }

    private static bool Fail(string message, out string error)
    {
        error = message;
        return false;
    }
}
