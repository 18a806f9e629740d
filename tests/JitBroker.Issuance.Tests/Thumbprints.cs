using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace JitBroker.Issuance.Tests;

/// <summary>An independent RFC 7638 thumbprint, computed from the key's own parameters.</summary>
internal static class Thumbprints
{
    public static string Rfc7638(ECDsa key)
    {
        var q = key.ExportParameters(false).Q;
        return Rfc7638(Base64Url.EncodeToString(q.X), Base64Url.EncodeToString(q.Y));
    }

    public static string Rfc7638(string x, string y) =>
        OfRequiredMembers(("kty", "EC"), ("crv", "P-256"), ("x", x), ("y", y));

    /// <summary>
    /// RFC 7638 §3.2–3.3: the required members only, ordered by member name code points, no whitespace,
    /// UTF-8, SHA-256, base64url. (All values here are base64url or plain ASCII: no JSON escaping needed.)
    /// </summary>
    public static string OfRequiredMembers(params (string Name, string Value)[] members)
    {
        var canonical = "{" + string.Join(",", members.OrderBy(m => m.Name, StringComparer.Ordinal)
            .Select(m => $"\"{m.Name}\":\"{m.Value}\"")) + "}";
        return Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }
}
