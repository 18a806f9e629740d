using JitBroker.Core;

namespace JitBroker.Testing;

/// <summary>The lease the broker records for a credential an issuer minted, for tests that drive issuers directly.</summary>
public static class IssuedLeases
{
    public static Lease For(IssueRequest request, IssuedCredential credential)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(credential);
        return new Lease
        {
            LeaseId = request.LeaseId,
            TaskId = request.TaskId,
            AgentId = request.Agent.Id,
            IssuerKind = credential.Kind,
            BackendHandle = credential.BackendHandle,
            Scope = request.Grant.Scope,
            IssuedAt = credential.IssuedAt,
            ExpiresAt = credential.ExpiresAt,
            CredentialFingerprint = credential.Fingerprint,
        };
    }
}
