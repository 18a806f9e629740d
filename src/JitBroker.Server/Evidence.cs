using Grpc.Core;
using JitBroker.Core;

namespace JitBroker.Server;

/// <summary>Reads the caller's identity evidence from gRPC metadata (JWT-SVID spec: <c>authorization: Bearer</c>).</summary>
internal static class Evidence
{
    /// <summary>
    /// The call's evidence. <paramref name="transportCertificateOnly"/> (the admin listener) leaves the TLS client
    /// certificate out: there it is a transport requirement Kestrel already checked against
    /// <c>Listen:AdminClientCaPath</c>, and the bearer identity alone decides who the caller is.
    /// </summary>
    public static AttestationEvidence From(ServerCallContext context, bool transportCertificateOnly = false) =>
        From(context, PeerOf(context), transportCertificateOnly);

    /// <summary>The call's evidence, for a caller whose remote address <paramref name="peer"/> is already known (the door read it).</summary>
    public static AttestationEvidence From(ServerCallContext context, string? peer, bool transportCertificateOnly = false)
    {
        var http = context.GetHttpContext();
        // RFC 9110: authorization is a single-value field. Two of them are refused outright, whichever comes
        // first — never joined (ASP.NET Core would join them with a comma) and never "first one wins".
        var values = http.Request.Headers.Authorization;
        if (values.Count > 1)
        {
            throw new BrokerException(BrokerFailure.Unauthenticated, Reasons.IdentityDuplicateAuthorization,
                "Send exactly one authorization metadata entry.");
        }

        var certificate = transportCertificateOnly ? null : http.Connection.ClientCertificate;
        if (values.Count == 0)
        {
            return new AttestationEvidence(null, certificate, peer);
        }

        var header = values[0] ?? "";
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) || header.Length == scheme.Length)
        {
            throw new BrokerException(BrokerFailure.Unauthenticated, Reasons.IdentityMalformedAuthorization,
                "The authorization metadata must be 'Bearer <token>'.");
        }

        // A slice of the header, not a copy of it: the token is read in place (a JWT-SVID is ~1 KiB of UTF-16 per call).
        var rest = header.AsSpan(scheme.Length);
        var start = scheme.Length + (rest.Length - rest.TrimStart().Length);
        return AttestationEvidence.WithBearerSlice(header, start, rest.Trim().Length, certificate, peer);
    }

    /// <summary>The caller's remote address (IPv4-mapped IPv6 folded to IPv4), the key of the per-peer rate limit and failure counts.</summary>
    public static string? PeerOf(ServerCallContext context) => PeerAdmission.PeerOf(context.GetHttpContext());
}
