using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using JitBroker.Core;

namespace JitBroker.Issuance;

/// <summary>
/// Delegation offers as compact JWS (<c>typ: jitbroker-delegation-offer+jwt</c>) signed with the broker's token key in
/// that key's algorithm (ES256, RS256 or PS256): any replica can verify an offer another replica made. The distinct <c>typ</c> keeps an
/// offer from ever being accepted as a task credential and vice versa.
/// </summary>
public sealed class DelegationOfferCodec(ISigningKeyProvider keys) : IDelegationOfferCodec
{
    public const string TokenType = "jitbroker-delegation-offer+jwt";

    public string Encode(DelegationOffer offer)
    {
        var key = keys.Current;
        var header = new JsonObject { ["alg"] = key.Algorithm, ["typ"] = TokenType, ["kid"] = key.KeyId };
        var payload = new JsonObject
        {
            ["jti"] = offer.OfferId,
            ["parent"] = offer.ParentLeaseId,
            ["planner"] = offer.PlannerId,
            ["worker"] = offer.WorkerId,
            ["tools"] = new JsonArray([.. offer.Tools.Select(t => (JsonNode?)t)]),
            ["resources"] = new JsonArray([.. offer.Resources.Select(r => (JsonNode?)r)]),
            ["ttl"] = (long)offer.Ttl.TotalSeconds,
            ["exp"] = offer.ExpiresAt.ToUnixTimeSeconds(),
        };
        var signingInput = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." +
                           Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload.ToJsonString()));
        return signingInput + "." + Base64Url.EncodeToString(key.Sign(Encoding.ASCII.GetBytes(signingInput)));
    }

    public DelegationOffer? Decode(string token)
    {
        try
        {
            var parts = token.Split('.');
            if (parts.Length != 3)
            {
                return null;
            }

            using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0]));
            if (header.RootElement.GetProperty("typ").GetString() != TokenType)
            {
                return null;
            }

            // The key named by kid fixes the algorithm; a header naming any other (none, HS256, RS256 for a PS256 key…) is refused.
            var kid = header.RootElement.GetProperty("kid").GetString();
            var key = keys.VerificationKeys.FirstOrDefault(k => k.KeyId == kid);
            if (key is null || header.RootElement.GetProperty("alg").GetString() != key.Algorithm ||
                !key.Verify(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url.DecodeFromChars(parts[2])))
            {
                return null;
            }

            using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
            var p = payload.RootElement;
            return new DelegationOffer(
                p.GetProperty("jti").GetString()!,
                p.GetProperty("parent").GetString()!,
                p.GetProperty("planner").GetString()!,
                p.GetProperty("worker").GetString()!,
                [.. p.GetProperty("tools").EnumerateArray().Select(e => e.GetString()!)],
                [.. p.GetProperty("resources").EnumerateArray().Select(e => e.GetString()!)],
                TimeSpan.FromSeconds(p.GetProperty("ttl").GetInt64()),
                DateTimeOffset.FromUnixTimeSeconds(p.GetProperty("exp").GetInt64()));
        }
        catch (Exception ex) when (ex is FormatException or JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException)
        {
            return null; // hostile input never throws out of here
        }
    }
}
