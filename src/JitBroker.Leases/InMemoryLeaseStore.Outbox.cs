using JitBroker.Core;

namespace JitBroker.Leases;

/// <summary>
/// The outbox of revocation records (<see cref="IRevocationOutbox"/>), in process. It only matters where the ledger
/// outlives a replica (Redis); here it keeps the same contract so one conformance suite covers both.
/// </summary>
public sealed partial class InMemoryLeaseStore
{
    private readonly Dictionary<string, Dictionary<string, DateTimeOffset>> _unaudited = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _heartbeats = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Recoverer, long Until)> _recoveryHolds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _recoverers = new(StringComparer.Ordinal);

    public Task<IReadOnlyList<UnauditedRevocation>> ListUnauditedAsync(string owner, DateTimeOffset before, int max, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            IReadOnlyList<UnauditedRevocation> entries = _unaudited.TryGetValue(owner, out var box)
                ? [.. box.Where(e => e.Value < before).OrderBy(e => e.Value).ThenBy(e => e.Key, StringComparer.Ordinal).Take(max)
                    .Select(e => new UnauditedRevocation(e.Key, e.Value))]
                : [];
            return Task.FromResult(entries);
        }
    }

    public Task AcknowledgeAuditedAsync(string owner, IReadOnlyCollection<string> leaseIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(leaseIds);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (_unaudited.TryGetValue(owner, out var box))
            {
                foreach (var id in leaseIds)
                {
                    box.Remove(id);
                }

                if (box.Count == 0)
                {
                    _unaudited.Remove(owner);
                }
            }
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<string>> ListUnauditedOwnersAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            IReadOnlyList<string> owners = [.. _unaudited.Keys.Order(StringComparer.Ordinal)];
            return Task.FromResult(owners);
        }
    }

    public Task HeartbeatAsync(string replica, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(replica);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            _heartbeats[replica] = Environment.TickCount64 + (long)ttl.TotalMilliseconds;
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<string>?> BeginRecoveryAsync(string owner, string recoverer, TimeSpan hold, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(recoverer);
        cancellationToken.ThrowIfCancellationRequested();
        var now = Environment.TickCount64;
        lock (_gate)
        {
            if (owner != recoverer && _heartbeats.TryGetValue(owner, out var alive) && alive > now)
            {
                return Task.FromResult<IReadOnlyList<string>?>(null);
            }

            // A hold counts while its holder lives: a recoverer killed mid-pass must not block the outbox until the hold runs out.
            if (_recoveryHolds.TryGetValue(owner, out var held) && held.Until > now && held.Recoverer != recoverer
                && _heartbeats.TryGetValue(held.Recoverer, out var holderAlive) && holderAlive > now)
            {
                return Task.FromResult<IReadOnlyList<string>?>(null);
            }

            _recoveryHolds[owner] = (recoverer, now + (long)hold.TotalMilliseconds);
            if (!_recoverers.TryGetValue(owner, out var all))
            {
                _recoverers[owner] = all = new HashSet<string>(StringComparer.Ordinal);
            }

            all.Add(recoverer);
            return Task.FromResult<IReadOnlyList<string>?>([.. all.Order(StringComparer.Ordinal)]);
        }
    }

    public Task EndRecoveryAsync(string owner, string recoverer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (_recoveryHolds.TryGetValue(owner, out var held) && held.Recoverer == recoverer)
            {
                _recoveryHolds.Remove(owner);
            }

            if (!_unaudited.ContainsKey(owner))
            {
                _recoverers.Remove(owner);
            }
        }

        return Task.CompletedTask;
    }

    // Under _gate.
    private void AddUnaudited(string owner, string leaseId, DateTimeOffset revokedAt)
    {
        if (!_unaudited.TryGetValue(owner, out var box))
        {
            _unaudited[owner] = box = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        }

        box[leaseId] = revokedAt;
    }
}
