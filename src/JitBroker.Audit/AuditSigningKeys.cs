using JitBroker.Issuance;

namespace JitBroker.Audit;

/// <summary>
/// The key that signs audit checkpoints — never the task-JWT key. A distinct type so the audit log cannot be handed
/// the token key by accident: whoever steals the token key can mint tokens, but cannot re-sign rewritten audit
/// history, and a checkpoint verifier trusts only this key's public half (served at
/// <c>/.well-known/audit-jwks.json</c>, or kept as a PEM off the broker host; docs/audit.md).
/// </summary>
public sealed class AuditSigningKeys : IDisposable
{
    public AuditSigningKeys(ISigningKeyProvider provider, ISigningKeyProvider tokenKeys)
    {
        // Fail closed: a configuration that points both at one key would silently undo the separation.
        if (provider.VerificationKeys.Any(a => tokenKeys.VerificationKeys.Any(t => t.KeyId == a.KeyId)))
        {
            throw new ArgumentException("The audit checkpoint key must not be a task-JWT signing key (same kid).", nameof(provider));
        }

        Provider = provider;
    }

    public ISigningKeyProvider Provider { get; }

    /// <summary>Disposes the provider when it is disposable: this object owns it.</summary>
    public void Dispose() => (Provider as IDisposable)?.Dispose();
}
