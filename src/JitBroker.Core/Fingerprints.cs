using System.Security.Cryptography;
using System.Text;

namespace JitBroker.Core;

/// <summary>SHA-256 fingerprints: the only form in which a secret may be stored, logged or audited.</summary>
public static class Fingerprints
{
    private const int StackLimit = 2048;

    public static string Of(string secret) => Of(secret.AsSpan());

    public static string Of(ReadOnlySpan<char> secret)
    {
        // Called for every credential issued: the secret's bytes go through a stack or pooled buffer (wiped
        // after), not a new array per call.
        var max = Encoding.UTF8.GetMaxByteCount(secret.Length);
        byte[]? rented = null;
        var bytes = max <= StackLimit ? stackalloc byte[StackLimit] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(max));
        Span<byte> hash = stackalloc byte[32];
        var length = Encoding.UTF8.GetBytes(secret, bytes);
        try
        {
            SHA256.HashData(bytes[..length], hash);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes[..length]);
            if (rented is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }
        }

        return FromDigest(hash);
    }

    /// <summary>The fingerprint text of a SHA-256 digest already computed over the secret's UTF-8 bytes.</summary>
    public static string FromDigest(ReadOnlySpan<byte> sha256)
    {
        if (sha256.Length != 32)
        {
            throw new ArgumentException("A SHA-256 digest is 32 bytes.", nameof(sha256));
        }

        Span<char> text = stackalloc char[7 + 64];
        "sha256:".CopyTo(text);
        Convert.TryToHexStringLower(sha256, text[7..], out _);
        return new string(text);
    }
}

/// <summary>
/// Lease ids: lowercase base32, prefixed so operators can tell them from other ids. The first two characters after
/// the prefix carry a <em>placement</em> (10 bits, 0..<see cref="Placements"/> − 1) and the rest 118 random bits.
/// </summary>
/// <remarks>
/// The placement lets a sharded ledger find a lease from its id alone and keep related leases together: the broker
/// places a task's leases by <see cref="PlacementFor"/>(agent, task) and a delegated lease with its parent
/// (<see cref="PlacementOf"/>), so a delegation tree shares one placement (the Redis store puts a placement in a
/// bucket, docs/redis.md "Redis Cluster"). The id stays opaque to clients: same length, alphabet and check as before.
/// </remarks>
public static class LeaseIds
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";
    private static readonly System.Buffers.SearchValues<char> AlphabetChars = System.Buffers.SearchValues.Create(Alphabet);
    public const string Prefix = "lease_";

    /// <summary>Number of distinct placements (10 bits).</summary>
    public const int Placements = 1024;

    /// <summary>A new id with a random placement.</summary>
    public static string New() => New(RandomNumberGenerator.GetInt32(Placements));

    /// <summary>A new id carrying <paramref name="placement"/> (0..<see cref="Placements"/> − 1).</summary>
    public static string New(int placement)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(placement);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(placement, Placements);
        Span<byte> random = stackalloc byte[16];
        RandomNumberGenerator.Fill(random);
        // The top 10 bits become the first two base32 characters.
        random[0] = (byte)(placement >> 2);
        random[1] = (byte)(((placement & 3) << 6) | (random[1] & 0x3F));
        // Prefix and 26 base32 characters built on the stack: the id is the one string allocated.
        Span<char> chars = stackalloc char[Prefix.Length + 26];
        Prefix.CopyTo(chars);
        int buffer = 0, bits = 0, n = Prefix.Length;
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
        return new string(chars);
    }

    /// <summary>
    /// The placement an id carries; for a string that is not a well-formed lease id (tests, imported records) a stable
    /// hash of it, so every string has exactly one placement.
    /// </summary>
    public static int PlacementOf(string leaseId)
    {
        ArgumentNullException.ThrowIfNull(leaseId);
        return IsWellFormed(leaseId)
            ? (Alphabet.IndexOf(leaseId[Prefix.Length], StringComparison.Ordinal) << 5) | Alphabet.IndexOf(leaseId[Prefix.Length + 1], StringComparison.Ordinal)
            : (int)(Fnv1a(leaseId, "") % Placements);
    }

    /// <summary>The placement of an agent's task: every root lease of the task gets it.</summary>
    public static int PlacementFor(string agentId, string taskId)
    {
        ArgumentNullException.ThrowIfNull(agentId);
        ArgumentNullException.ThrowIfNull(taskId);
        return (int)(Fnv1a(agentId, taskId) % Placements);
    }

    /// <summary>
    /// The placement of every root lease of an agent held to a per-agent active-lease cap: one placement, so a sharded
    /// ledger counts all of the agent's leases in one atomic step (docs/redis.md, "Redis Cluster").
    /// </summary>
    public static int PlacementForAgent(string agentId) => PlacementFor(agentId, "");

    /// <summary>Cheap shape check before any lookup, so junk ids never reach the store.</summary>
    public static bool IsWellFormed(string? id) =>
        id is { Length: 32 } && id.StartsWith(Prefix, StringComparison.Ordinal) &&
        id.AsSpan(Prefix.Length).IndexOfAnyExcept(AlphabetChars) < 0;

    // FNV-1a over the UTF-16 code units of a, a separator no string contains (0xFFFF is a noncharacter), then b:
    // stable across processes and versions, unlike string.GetHashCode.
    private static uint Fnv1a(string a, string b)
    {
        var hash = 2166136261u;
        foreach (var c in a)
        {
            hash = (hash ^ c) * 16777619u;
        }

        hash = (hash ^ 0xFFFF) * 16777619u;
        foreach (var c in b)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return hash;
    }
}
