using System.Text.Json.Nodes;

namespace JitBroker.Issuance;

/// <summary>The JWKS (RFC 7517 §5) relying parties fetch to verify task JWTs offline.</summary>
public static class JwksDocument
{
    /// <summary>
    /// <c>{"keys":[...]}</c> with the public JWK of every verification key, current key first. Public
    /// material only: built from <see cref="SigningKey.ToPublicJwk"/>, which has no private member.
    /// </summary>
    public static string Build(ISigningKeyProvider keys)
    {
        var array = new JsonArray();
        foreach (var key in keys.VerificationKeys)
        {
            array.Add(key.ToPublicJwk());
        }

        return new JsonObject { ["keys"] = array }.ToJsonString();
    }
}
