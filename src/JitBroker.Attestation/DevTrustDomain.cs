using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace JitBroker.Attestation;

/// <summary>
/// DEVELOPMENT ONLY. A local SPIFFE trust domain (<see cref="Name"/>) for the embedded profile, demos
/// and tests: one ECDSA P-256 JWT-SVID signing key kept in a file next to its SPIFFE bundle, and a minter
/// of ES256 JWT-SVIDs. Anyone who can read the key file can become any workload of this trust domain, so
/// it must never be trusted by a production broker; production trust domains come from SPIRE (or another
/// SPIFFE implementation) through their published bundles. Dispose to release the key.
/// </summary>
public sealed class DevTrustDomain : IDisposable
{
    /// <summary>The development trust domain's name.</summary>
    public const string Name = "dev.jitbroker.local";

    public const string KeyFileName = "dev-trust-domain.key.pem";
    public const string BundleFileName = "dev-trust-domain.bundle.json";

    /// <summary>Longest SVID lifetime <see cref="MintSvid"/> will produce.</summary>
    public static readonly TimeSpan MaxSvidTtl = TimeSpan.FromHours(1);

    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = OwnerOnlyFile | UnixFileMode.UserExecute;
    private const UnixFileMode GroupOrOther = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private readonly ECDsa _key;
    private readonly TimeProvider _time;
    private readonly Lock _signing = new();

    private DevTrustDomain(ECDsa key, string keyPath, string bundlePath, string keyId, TimeProvider time)
    {
        _key = key;
        _time = time;
        KeyPath = keyPath;
        BundlePath = bundlePath;
        KeyId = keyId;
    }

    /// <summary>Path of the SPIFFE bundle (JWK Set) to configure as this trust domain's bundle.</summary>
    public string BundlePath { get; }

    /// <summary>Path of the private key (PKCS#8 PEM, mode 0600).</summary>
    public string KeyPath { get; }

    /// <summary>The signing key's <c>kid</c>: its RFC 7638 JWK thumbprint, so it is stable across restarts.</summary>
    public string KeyId { get; }

    /// <summary>
    /// DEVELOPMENT ONLY. Loads the dev trust domain from <paramref name="directory"/>, creating the directory
    /// (mode 0700), the key (mode 0600) and the bundle when missing; existing files are reused. Refuses a key
    /// file that group or others may access, the way ssh refuses such a private key.
    /// </summary>
    public static DevTrustDomain LoadOrCreate(string directory, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentNullException.ThrowIfNull(time);
        if (!Directory.Exists(directory))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                Directory.CreateDirectory(directory, OwnerOnlyDirectory);
            }
        }

        var keyPath = Path.Combine(directory, KeyFileName);
        var bundlePath = Path.Combine(directory, BundleFileName);
        var key = File.Exists(keyPath) ? LoadKey(keyPath) : CreateKey(keyPath);
        var jwk = key.ExportParameters(includePrivateParameters: false).Q;
        var x = Base64UrlEncode(jwk.X!);
        var y = Base64UrlEncode(jwk.Y!);
        var keyId = Thumbprint(x, y);
        EnsureBundle(bundlePath, keyId, x, y);
        return new DevTrustDomain(key, keyPath, bundlePath, keyId, time);
    }

    /// <summary>
    /// DEVELOPMENT ONLY. Mints an ES256 JWT-SVID: header <c>alg</c>, <c>kid</c>, <c>typ: JWT</c>; claims
    /// <c>sub</c>, <c>aud</c>, <c>exp</c>, <c>iat</c>, <c>jti</c>. Throws <see cref="ArgumentException"/> when
    /// <paramref name="spiffeId"/> is not a workload SPIFFE ID of this trust domain, the audience is empty,
    /// or the TTL is not between 1 s and <see cref="MaxSvidTtl"/>.
    /// </summary>
    public string MintSvid(string spiffeId, string audience, TimeSpan ttl)
    {
        if (!SpiffeId.TryParse(spiffeId, out var id, out var error))
        {
            throw new ArgumentException($"Not a valid SPIFFE ID: {error}.", nameof(spiffeId));
        }

        if (id.TrustDomain != Name || id.Path.Length == 0)
        {
            throw new ArgumentException($"The SPIFFE ID must name a workload in trust domain '{Name}'.", nameof(spiffeId));
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(audience);
        if (ttl < TimeSpan.FromSeconds(1) || ttl > MaxSvidTtl)
        {
            throw new ArgumentOutOfRangeException(nameof(ttl), $"The SVID lifetime must lie between 1s and {MaxSvidTtl.TotalMinutes:0} minutes.");
        }

        var now = _time.GetUtcNow();
        var header = Base64UrlEncode(Json(w =>
        {
            w.WriteString("alg", "ES256");
            w.WriteString("kid", KeyId);
            w.WriteString("typ", "JWT");
        }));
        var payload = Base64UrlEncode(Json(w =>
        {
            w.WriteString("sub", id.ToString());
            w.WriteString("aud", audience);
            w.WriteNumber("exp", (now + ttl).ToUnixTimeSeconds());
            w.WriteNumber("iat", now.ToUnixTimeSeconds());
            w.WriteString("jti", Base64UrlEncode(RandomNumberGenerator.GetBytes(16)));
        }));

        var signingInput = header + "." + payload;
        byte[] signature;
        lock (_signing)
        {
            signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256);
        }

        return signingInput + "." + Base64UrlEncode(signature);
    }

    public void Dispose() => _key.Dispose();

    private static ECDsa LoadKey(string keyPath)
    {
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(keyPath) & GroupOrOther) != 0)
        {
            throw new InvalidOperationException($"Dev trust domain key '{keyPath}' is accessible by group or others; run 'chmod 600 {keyPath}'.");
        }

        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(File.ReadAllText(keyPath));
            if (key.KeySize != 256 || key.ExportParameters(false).Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
            {
                throw new InvalidOperationException($"Dev trust domain key '{keyPath}' is not an ECDSA P-256 key.");
            }

            return key;
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            key.Dispose();
            throw new InvalidOperationException($"Dev trust domain key '{keyPath}' is not a readable PKCS#8 PEM key.", e);
        }
    }

    private static ECDsa CreateKey(string keyPath)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var pem = key.ExportPkcs8PrivateKeyPem();
        var temp = keyPath + ".tmp";
        File.Delete(temp); // left over from an interrupted run; it never became the key
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnlyFile; // never exists with looser permissions, not even briefly
        }

        using (var writer = new StreamWriter(temp, Encoding.ASCII, options))
        {
            writer.Write(pem);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temp, OwnerOnlyFile);
        }

        File.Move(temp, keyPath, overwrite: false);
        return key;
    }

    private static void EnsureBundle(string bundlePath, string keyId, string x, string y)
    {
        if (File.Exists(bundlePath)
            && TrustBundleParser.TryLoadFile(Name, bundlePath, out var existing) is null
            && existing!.Keys.ContainsKey(keyId))
        {
            return;
        }

        var json = Json(w =>
        {
            w.WriteStartArray("keys");
            w.WriteStartObject();
            w.WriteString("kty", "EC");
            w.WriteString("crv", "P-256");
            w.WriteString("x", x);
            w.WriteString("y", y);
            w.WriteString("kid", keyId);
            w.WriteString("use", "jwt-svid");
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteNumber("spiffe_sequence", 1);
            w.WriteNumber("spiffe_refresh_hint", 300);
        }, indented: true);
        var temp = bundlePath + ".tmp";
        File.WriteAllBytes(temp, json);
        File.Move(temp, bundlePath, overwrite: true); // atomic: a reloading broker never sees half a bundle
    }

    /// <summary>RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order, no whitespace.</summary>
    private static string Thumbprint(string x, string y) =>
        Base64UrlEncode(SHA256.HashData(Encoding.UTF8.GetBytes($$"""{"crv":"P-256","kty":"EC","x":"{{x}}","y":"{{y}}"}""")));

    private static byte[] Json(Action<Utf8JsonWriter> body, bool indented = false)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static string Base64UrlEncode(ReadOnlySpan<byte> bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);
}
