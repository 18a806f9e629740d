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
        tokenId is not null ? string.Concat("jti:", issuer, "|", tokenId) : ForSignedContent(signingInput);

    /// <summary>
    /// <see cref="For"/> for a token without <c>iss</c>, whose issuing authority is its trust domain
    /// (<c>spiffe://</c><i>trust domain</i>): the same key, without first making the issuer string.
    /// </summary>
    public static string ForTrustDomain(string trustDomain, string? tokenId, ReadOnlySpan<byte> signingInput) =>
        tokenId is not null ? string.Concat("jti:" + SpiffeId.Scheme, trustDomain, "|", tokenId) : ForSignedContent(signingInput);

    private static string ForSignedContent(ReadOnlySpan<byte> signingInput)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(signingInput, digest);
        Span<char> text = stackalloc char[4 + (2 * SHA256.HashSizeInBytes)];
        "sig:".CopyTo(text);
        Convert.TryToHexStringLower(digest, text[4..], out _);
        return new string(text);
    }
}
