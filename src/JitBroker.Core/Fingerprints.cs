using System.Security.Cryptography;
using System.Text;

namespace JitBroker.Core;

/// <summary>SHA-256 fingerprints: the only form in which a secret may be stored, logged or audited.</summary>
public static class Fingerprints
{
    public static string Of(string secret)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(secret), hash);
        return "sha256:" + Convert.ToHexStringLower(hash);
    }
}

/// <summary>Lease ids: 128 random bits, lowercase base32, prefixed so operators can tell them from other ids.</summary>
public static class LeaseIds
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";
    private static readonly System.Buffers.SearchValues<char> AlphabetChars = System.Buffers.SearchValues.Create(Alphabet);
    public const string Prefix = "lease_";

    public static string New()
    {
        Span<byte> random = stackalloc byte[16];
        RandomNumberGenerator.Fill(random);
        var chars = new char[26];
        int buffer = 0, bits = 0, n = 0;
        foreach (var b in random)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                chars[n++] = Alphabet[(buffer >> (bits - 5)) & 31];
                bits -= 5;
            }
        }

        chars[n] = Alphabet[(buffer << (5 - bits)) & 31];
        return Prefix + new string(chars);
    }

    /// <summary>Cheap shape check before any lookup, so junk ids never reach the store.</summary>
    public static bool IsWellFormed(string? id) =>
        id is { Length: 32 } && id.StartsWith(Prefix, StringComparison.Ordinal) &&
        id.AsSpan(Prefix.Length).IndexOfAnyExcept(AlphabetChars) < 0;
}
