using System.Security.Cryptography;
using System.Text.Json;
using JitBroker.Core;

namespace JitBroker.Attestation;

/// <summary>
/// Reads a SPIFFE bundle (SPIFFE_Trust_Domain_and_Bundle §4: an RFC 7517 JWK Set) and keeps the JWT-SVID
/// keys (JWT-SVID §6.2). Entries with an unknown <c>kty</c>, a missing or other <c>use</c> are ignored, as
/// the bundle spec requires (§4.1.3, §4.2.1, §4.2.2). A JWT-SVID entry that cannot be used safely (no
/// <c>kid</c>, private members, short RSA modulus, point off the curve) is skipped and reported. Only a
/// document that is not a JWK Set, or one that makes key selection ambiguous (duplicate <c>kid</c>), fails.
/// The same rules read an OIDC issuer's JWKS (<see cref="KeySetProfile.OidcJwks"/>), where signature keys
/// carry <c>use</c> = <c>sig</c> or no <c>use</c> at all (RFC 7517 §4.2) and encryption keys are ignored.
/// </summary>
internal static class TrustBundleParser
{
    public const int MaxBundleBytes = 1024 * 1024;
    private const int MinRsaModulusBits = 2048; // RFC 7518 §3.3
    private const string JwtSvidUse = "jwt-svid";

    private static readonly string[] PrivateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
    private static readonly JsonDocumentOptions JsonOptions = new() { MaxDepth = 16 };

    /// <summary>Loads <paramref name="path"/>; returns null on success, else a safe description of the problem.</summary>
    public static string? TryLoadFile(string trustDomain, string path, out TrustBundle? bundle) =>
        TryLoadFile(trustDomain, path, KeySetProfile.SpiffeBundle, out bundle);

    /// <summary>Loads <paramref name="path"/> read as <paramref name="profile"/>; null on success, else a safe description of the problem.</summary>
    public static string? TryLoadFile(string trustDomain, string path, KeySetProfile profile, out TrustBundle? bundle)
    {
        bundle = null;
        try
        {
            using var stream = File.OpenRead(path);
            if (stream.Length > MaxBundleBytes)
            {
                return $"larger than {MaxBundleBytes} bytes";
            }

            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return TryParse(trustDomain, bytes, profile, out bundle);
        }
        catch (BundleFormatException e)
        {
            return e.Message;
        }
        catch (JsonException)
        {
            return "not valid JSON";
        }
        catch (IOException e)
        {
            return $"cannot be read ({e.GetType().Name})";
        }
        catch (UnauthorizedAccessException)
        {
            return "cannot be read (access denied)";
        }
    }

    /// <summary>Parses <paramref name="json"/>; null on success, else a safe description of the problem.</summary>
    public static string? TryParse(string name, ReadOnlySpan<byte> json, KeySetProfile profile, out TrustBundle? bundle)
    {
        bundle = null;
        try
        {
            bundle = Parse(name, json, profile);
            return null;
        }
        catch (BundleFormatException e)
        {
            return e.Message;
        }
        catch (JsonException)
        {
            return "not valid JSON";
        }
    }

    public static TrustBundle Parse(string trustDomain, ReadOnlySpan<byte> json, KeySetProfile profile = KeySetProfile.SpiffeBundle)
    {
        if (!StrictUtf8.IsJsonText(json))
        {
            throw new BundleFormatException("the document is not strictly valid UTF-8");
        }

        using var document = JsonDocument.Parse(json.ToArray(), JsonOptions);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new BundleFormatException("the bundle is not a JSON object");
        }

        JsonStrict.RequireUniqueMembers(root, "the bundle");
        if (!root.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
        {
            throw new BundleFormatException("the bundle has no 'keys' array");
        }

        long? sequence = root.TryGetProperty("spiffe_sequence", out var seq) && seq.TryGetInt64(out var s) ? s : null;
        TimeSpan? refreshHint = profile == KeySetProfile.SpiffeBundle && root.TryGetProperty("spiffe_refresh_hint", out var hint)
            && hint.TryGetInt64(out var seconds) && seconds > 0
            ? TimeSpan.FromSeconds(Math.Min(seconds, (long)TimeSpan.FromDays(365).TotalSeconds))
            : null;
        var usable = new Dictionary<string, BundleKey>(StringComparer.Ordinal);
        var skipped = new List<string>();
        var index = 0;
        foreach (var jwk in keys.EnumerateArray())
        {
            var key = ReadKey(jwk, index, profile, skipped);
            if (key is not null && !usable.TryAdd(key.KeyId, key))
            {
                throw new BundleFormatException($"two JWT-SVID keys share the kid of keys[{index}]");
            }

            index++;
        }

        return new TrustBundle(trustDomain, usable, skipped, sequence, refreshHint);
    }

    private static BundleKey? ReadKey(JsonElement jwk, int index, KeySetProfile profile, List<string> skipped)
    {
        if (jwk.ValueKind != JsonValueKind.Object)
        {
            throw new BundleFormatException($"keys[{index}] is not a JSON object");
        }

        JsonStrict.RequireUniqueMembers(jwk, $"keys[{index}]");
        var use = JsonStrict.OptionalString(jwk, "use");
        if (profile == KeySetProfile.OidcJwks)
        {
            if (use is not (null or "sig"))
            {
                return null; // an encryption key: not for verifying signatures
            }
        }
        else if (use is null)
        {
            skipped.Add($"keys[{index}] has no 'use' and is ignored (SPIFFE bundle §4.2.2)");
            return null;
        }

        else if (!string.Equals(use, JwtSvidUse, StringComparison.Ordinal))
        {
            return null; // another SVID type's key (x509-svid…): not ours, silently ignored
        }

        var kty = JsonStrict.OptionalString(jwk, "kty");
        if (kty is not ("EC" or "RSA"))
        {
            skipped.Add($"keys[{index}] has an unsupported or missing 'kty' and is ignored");
            return null;
        }

        var kid = JsonStrict.OptionalString(jwk, "kid");
        if (string.IsNullOrEmpty(kid))
        {
            skipped.Add($"keys[{index}] has no 'kid' (required: tokens name their key by 'kid') and is ignored");
            return null;
        }

        if (PrivateMembers.Any(m => jwk.TryGetProperty(m, out _)))
        {
            skipped.Add($"keys[{index}] contains private key members and is ignored: remove them from the bundle");
            return null;
        }

        var alg = JsonStrict.OptionalString(jwk, "alg");
        if (alg is not null && !JwsAlgorithm.IsSupported(alg))
        {
            skipped.Add($"keys[{index}] is pinned to an algorithm outside RS/ES/PS 256/384/512 and is ignored");
            return null;
        }

        try
        {
            var key = kty == "EC" ? ReadEc(jwk, kid, alg) : ReadRsa(jwk, kid, alg);
            if (key is null)
            {
                skipped.Add($"keys[{index}] has invalid or missing {kty} key parameters and is ignored");
            }
            else if (alg is not null && JwsAlgorithm.TryGet(alg, out var pinned) && key.MismatchWith(pinned) is not null)
            {
                skipped.Add($"keys[{index}] is pinned to an algorithm its key cannot verify and is ignored");
                return null;
            }

            return key;
        }
        catch (CryptographicException)
        {
            skipped.Add($"keys[{index}] could not be imported ({kty} parameters rejected) and is ignored");
            return null;
        }
    }

    private static BundleKey? ReadEc(JsonElement jwk, string kid, string? alg)
    {
        var (curve, size) = JsonStrict.OptionalString(jwk, "crv") switch
        {
            "P-256" => (ECCurve.NamedCurves.nistP256, 32),
            "P-384" => (ECCurve.NamedCurves.nistP384, 48),
            "P-521" => (ECCurve.NamedCurves.nistP521, 66),
            _ => (default(ECCurve), 0),
        };

        // RFC 7518 §6.2.1.2-3: coordinates are the full size of the curve, never shortened.
        if (size == 0 || !JsonStrict.TryBase64Url(jwk, "x", out var x) || !JsonStrict.TryBase64Url(jwk, "y", out var y)
            || x.Length != size || y.Length != size)
        {
            return null;
        }

        return BundleKey.ForEc(kid, jwk.GetProperty("crv").GetString()!, curve, x, y, alg);
    }

    private static BundleKey? ReadRsa(JsonElement jwk, string kid, string? alg)
    {
        if (!JsonStrict.TryBase64Url(jwk, "n", out var n) || !JsonStrict.TryBase64Url(jwk, "e", out var e))
        {
            return null;
        }

        n = n.AsSpan().TrimStart((byte)0).ToArray();
        e = e.AsSpan().TrimStart((byte)0).ToArray();
        var modulusBits = n.Length == 0 ? 0 : ((n.Length - 1) * 8) + (8 - byte.LeadingZeroCount(n[0]));
        if (modulusBits < MinRsaModulusBits || e.Length is 0 or > 8 || (e[^1] & 1) == 0)
        {
            return null;
        }

        return BundleKey.ForRsa(kid, n, e, alg);
    }
}
