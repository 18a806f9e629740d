using System.Security.Cryptography;

namespace JitBroker.Attestation;

/// <summary>
/// The key under which the broker's replay cache remembers a verified token
/// (<see cref="Core.WorkloadIdentity.ReplayKey"/>): <c>jti:</c><i>iss</i><c>|</c><i>jti</i> when the token
/// has a <c>jti</c>, else <c>sig:</c> and the lowercase hex SHA-256 of <c>header.payload</c>. The signed
/// content, not the whole token, is hashed: ECDSA signatures are malleable ((r, s) and (r, n - s) both
/// verify), so anyone holding a captured token can mint a second valid spelling of it without the key.
/// </summary>
internal static class ReplayKeys
{
    public static string For(string issuer, string? tokenId, ReadOnlySpan<byte> signingInput) =>
        tokenId is not null
            ? "jti:" + issuer + "|" + tokenId
            : "sig:" + Convert.ToHexStringLower(SHA256.HashData(signingInput));
}
