using JitBroker.Core;
using JitBroker.Wire;

namespace JitBroker.Server;

/// <summary>Reads the caller's identity evidence from gRPC metadata (JWT-SVID spec: <c>authorization: Bearer</c>).</summary>
internal static class Evidence
{
    public const string MalformedAuthorization = "identity.malformed_authorization";

    public static AttestationEvidence From(ServerCallContext context)
    {
        var header = context.RequestHeaders.Get("authorization");
        string? token = null;
        if (header is not null)
        {
            const string scheme = "Bearer ";
            if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) || header.Length == scheme.Length)
            {
                throw new BrokerException(BrokerFailure.Unauthenticated, MalformedAuthorization,
                    "The authorization metadata must be 'Bearer <token>'.");
            }

            token = header[scheme.Length..].Trim();
        }

        return new AttestationEvidence(token, context.ClientCertificate);
    }
}
