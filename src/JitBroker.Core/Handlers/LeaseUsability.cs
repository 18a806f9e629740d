namespace JitBroker.Core.Handlers;

/// <summary>
/// Whether a lease's credential may still be used: it is live, no block applies to its agent, and the same holds for
/// every lease up its delegation chain. Asked by introspection, renewal and delegation, so a block or a parent's
/// revocation makes a credential unusable the moment it is recorded — before the sweepers have revoked anything at
/// its backend.
/// </summary>
public sealed class LeaseUsability
{

    /// <summary>Longer than any chain a delegation policy can allow; a longer walk means a corrupt ledger and is refused.</summary>
    public const int MaxChainLength = 32;

    private readonly ILeaseLedger _leases;
    private readonly IKillSwitch _killSwitch;

    public LeaseUsability(ILeaseLedger leases, IKillSwitch killSwitch)
    {
        _leases = leases;
        _killSwitch = killSwitch;
    }

    public async Task<bool> IsUsableAsync(Lease lease, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        for (var (current, depth) = (lease, 0); ; depth++)
        {
            if (!current.IsLiveAt(now) || await _killSwitch.FindBlockAsync(current.AgentId, now, cancellationToken).ConfigureAwait(false) is not null)
            {
                return false;
            }

            if (current.ParentLeaseId is not { } parentId)
            {
                return true;
            }

            // A parent that is gone (forgotten after its revocation) or a chain longer than any delegation can make is not usable.
            if (depth >= MaxChainLength || await _leases.GetAsync(parentId, cancellationToken).ConfigureAwait(false) is not { } parent)
            {
                return false;
            }

            current = parent;
        }
    }

    /// <summary>As <see cref="IsUsableAsync"/>, refusing with FailedPrecondition and <see cref="Reasons.LeaseNotActive"/>.</summary>
    public async Task EnsureUsableAsync(Lease lease, DateTimeOffset now, string message, CancellationToken cancellationToken = default)
    {
        if (!await IsUsableAsync(lease, now, cancellationToken).ConfigureAwait(false))
        {
            throw NotActive(message);
        }
    }

    internal static BrokerException NotActive(string message) => new(BrokerFailure.FailedPrecondition, Reasons.LeaseNotActive, message);
}
