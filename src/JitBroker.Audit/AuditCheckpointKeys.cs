using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text.Json;
using JitBroker.Issuance;

namespace JitBroker.Audit;

/// <summary>
/// Public keys that checkpoint signatures are verified with, by <c>kid</c>: from a JWKS document (the
/// broker's <c>/.well-known/jwks.json</c> or a saved copy) or from a key provider in-process. Keep old JWKS
/// documents: a checkpoint signed before a key rotation verifies only with the key that signed it.
/// Dispose to release keys parsed from a JWKS.
/// </summary>
public sealed class AuditCheckpointKeys : IDisposable
{
    private readonly Dictionary<string, SigningKey> _keys;
    private readonly bool _owned;

    private AuditCheckpointKeys(Dictionary<string, SigningKey> keys, bool owned)
    {
        _keys = keys;
        _owned = owned;
    }

    public IReadOnlyCollection<string> KeyIds => _keys.Keys;

    /// <summary>Every EC P-256 key with a kid in <c>{"keys":[...]}</c>; other keys are ignored. Throws <see cref="FormatException"/> for a document that is not a JWKS.</summary>
    public static AuditCheckpointKeys FromJwks(string json)
    {
        var keys = new Dictionary<string, SigningKey>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("keys", out var array) ||
                array.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException("Not a JWKS document: no \"keys\" array.");
            }

            foreach (var jwk in array.EnumerateArray())
            {
                if (TryImport(jwk) is { } imported && !keys.ContainsKey(imported.Kid))
                {
                    keys[imported.Kid] = imported.Key;
                }
            }
        }
        catch (JsonException e)
        {
            throw new FormatException("Not a JWKS document: " + e.Message);
        }

        return new AuditCheckpointKeys(keys, owned: true);
    }

    /// <summary>
    /// The audit key's public half as <c>PUBLIC KEY</c> PEM (one per key ever used): what an auditor keeps off the broker
    /// host to verify with nothing else. Throws <see cref="FormatException"/> for anything but a P-256 public key.
    /// </summary>
    public static AuditCheckpointKeys FromPublicKeyPems(IEnumerable<string> pems)
    {
        var keys = new Dictionary<string, SigningKey>(StringComparer.Ordinal);
        try
        {
            foreach (var pem in pems)
            {
                var key = SigningKey.FromPublicKeyPem(pem);
                if (!keys.TryAdd(key.KeyId, key))
                {
                    key.Dispose();
                }
            }
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or JitBroker.Core.BrokerException)
        {
            foreach (var key in keys.Values)
            {
                key.Dispose();
            }

            throw new FormatException("Not a P-256 PUBLIC KEY PEM: " + e.Message);
        }

        return new AuditCheckpointKeys(keys, owned: true);
    }

    /// <summary>The provider's verification keys (current and previous). The provider keeps ownership.</summary>
    public static AuditCheckpointKeys FromProvider(ISigningKeyProvider provider) =>
        new(provider.VerificationKeys.ToDictionary(k => k.KeyId, StringComparer.Ordinal), owned: false);

    public bool TryGet(string kid, [MaybeNullWhen(false)] out SigningKey key) => _keys.TryGetValue(kid, out key);

    public void Dispose()
    {
        if (_owned)
        {
            foreach (var key in _keys.Values)
            {
                key.Dispose();
            }
        }
    }

    private static (string Kid, SigningKey Key)? TryImport(JsonElement jwk)
    {
        string? Str(string name) => jwk.ValueKind == JsonValueKind.Object && jwk.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        if (Str("kty") != "EC" || Str("crv") != "P-256" || Str("kid") is not { Length: > 0 } kid ||
            Str("alg") is { } alg && alg != SigningKey.Es256 || Str("use") is { } use && use != "sig" ||
            Str("x") is not { } x || Str("y") is not { } y)
        {
            return null;
        }

        try
        {
            using var ecdsa = ECDsa.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = Base64Url.DecodeFromChars(x), Y = Base64Url.DecodeFromChars(y) },
            });
            // Through PEM so verification runs in SigningKey, the same code the broker's JWTs are checked with.
            return (kid, SigningKey.FromPublicKeyPem(ecdsa.ExportSubjectPublicKeyInfoPem()));
        }
        catch (Exception e) when (e is CryptographicException or FormatException or JitBroker.Core.BrokerException)
        {
            return null;
        }
    }
}
