using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace JitBroker.Core;

/// <summary>
/// Authenticates security state the broker keeps in a shared store it does not fully trust (Redis): approval
/// decisions, the kill-switch list, each lease's backend handle. HMAC-SHA256 with a key that never goes to the store,
/// over a canonical, length-prefixed encoding of a purpose and the fields, so no two (purpose, fields) lists encode
/// alike. A tag is <c>v1:&lt;key id&gt;:&lt;base64url MAC&gt;</c>; the key id lets previous keys verify during rotation.
/// </summary>
/// <remarks>
/// The key id is derived from the key (a SHA-256 fingerprint prefix), so it is safe to log and store; the key itself
/// is never logged, stored or exposed by this type.
/// </remarks>
public sealed class StateMac
{
    /// <summary>Shortest key accepted, in bytes (HMAC-SHA256's block size would allow more; less than 256 bits is too weak).</summary>
    public const int MinKeyBytes = 32;

    private const string Version = "v1";
    private const string Prefix = Version + ":";
    private static readonly int EncodedMacChars = Base64Url.GetEncodedLength(HMACSHA256.HashSizeInBytes);

    // Encodings up to this many bytes are built on the stack (a lease's handle tag is a few hundred), longer ones in a pooled buffer.
    private const int StackEncodingBytes = 512;
    private readonly byte[] _current;
    private readonly Dictionary<string, byte[]> _byId = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]>.AlternateLookup<ReadOnlySpan<char>> _byIdSpans;

    /// <param name="key">The key new tags are made with.</param>
    /// <param name="previousKeys">Keys that still verify (rotation), never used for new tags.</param>
    public StateMac(byte[] key, IEnumerable<byte[]>? previousKeys = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        foreach (var k in (previousKeys ?? []).Prepend(key))
        {
            if (k.Length < MinKeyBytes)
            {
                throw new ArgumentException($"A state integrity key needs at least {MinKeyBytes} bytes.", nameof(key));
            }

            _byId.TryAdd(KeyIdOf(k), [.. k]);
        }

        _byIdSpans = _byId.GetAlternateLookup<ReadOnlySpan<char>>();
        _current = [.. key];
        KeyId = KeyIdOf(key);
    }

    /// <summary>
    /// One random key per process, for stores built without a configured key (tests, tools): every store in this
    /// process agrees, and nothing written with it verifies in any other process — fail closed, never open.
    /// </summary>
    public static StateMac ProcessEphemeral { get; } = new(RandomNumberGenerator.GetBytes(MinKeyBytes));

    /// <summary>Fingerprint of the current key (16 hex digits of SHA-256): what logs and tags name.</summary>
    public string KeyId { get; }

    public static string KeyIdOf(byte[] key) =>
        Convert.ToHexStringLower(SHA256.HashData([.. "jitbroker-state-mac:"u8, .. key]))[..16];

    /// <summary>The tag over <paramref name="purpose"/> and <paramref name="fields"/> with the current key.</summary>
    public string Sign(string purpose, params ReadOnlySpan<string> fields)
    {
        // Built in place (one string per tag): signing is on every lease write. Base64url without padding, as before.
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Compute(_current, purpose, fields, mac);
        Span<char> encoded = stackalloc char[EncodedMacChars];
        Base64Url.EncodeToChars(mac, encoded);
        return string.Concat(Prefix, KeyId, ":", encoded);
    }

    /// <summary>True only when <paramref name="tag"/> is a well-formed tag of a known key over exactly these fields.</summary>
    /// <remarks>
    /// Read in place — no split parts, no decoded copy — since a lease's handle tag is verified on every lease read. Only
    /// the spelling <see cref="Sign"/> writes is accepted: <c>v1:</c>, a known key id, 43 characters of unpadded base64url.
    /// </remarks>
    public bool Verify(string? tag, string purpose, params ReadOnlySpan<string> fields)
    {
        if (tag is null || !tag.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = tag.AsSpan(Prefix.Length);
        var colon = rest.IndexOf(':');
        if (colon < 0 || !_byIdSpans.TryGetValue(rest[..colon], out var key))
        {
            return false;
        }

        var encoded = rest[(colon + 1)..];
        Span<byte> given = stackalloc byte[HMACSHA256.HashSizeInBytes];
        if (encoded.Length != EncodedMacChars
            || Base64Url.DecodeFromChars(encoded, given, out _, out var written) != OperationStatus.Done
            || written != given.Length)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Compute(key, purpose, fields, expected);
        return CryptographicOperations.FixedTimeEquals(given, expected);
    }

    /// <summary>The MAC over the length-prefixed encoding, built whole in one buffer and hashed in one call.</summary>
    private static void Compute(byte[] key, string purpose, ReadOnlySpan<string> fields, Span<byte> mac)
    {
        var length = EncodedLength(purpose);
        foreach (var field in fields)
        {
            length = checked(length + EncodedLength(field));
        }

        byte[]? rented = null;
        var buffer = length <= StackEncodingBytes ? stackalloc byte[StackEncodingBytes] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            var written = Append(buffer, purpose);
            foreach (var field in fields)
            {
                written += Append(buffer[written..], field);
            }

            HMACSHA256.HashData(key, buffer[..written], mac);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static int EncodedLength(string value) => checked(sizeof(int) + Encoding.UTF8.GetByteCount(value));

    // Length-prefixed UTF-8: ("ab","c") and ("a","bc") must not authenticate each other.
    private static int Append(Span<byte> buffer, string value)
    {
        var count = Encoding.UTF8.GetBytes(value, buffer[sizeof(int)..]);
        BinaryPrimitives.WriteInt32BigEndian(buffer, count);
        return sizeof(int) + count;
    }
}
