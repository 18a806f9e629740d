namespace JitBroker.Core;

/// <summary>
/// A backend the broker cannot serve without (lease store, Vault). <c>/readyz</c> answers ready only when
/// every registered check passes, so a load balancer stops sending agents to a broker that would fail them.
/// </summary>
public interface IReadinessCheck
{
    string Name { get; }

    /// <summary>True when the backend answers now. Must not throw; must honour cancellation promptly.</summary>
    Task<bool> IsReadyAsync(CancellationToken cancellationToken = default);
}
