using System.Collections.Concurrent;
using JitBroker.Cli;
using Grpc.Core;

namespace JitBroker.Ha.Tests.Harness;

/// <summary>
/// Agents asking for credentials: <c>workers</c> concurrent loops, each spreading RequestCredential calls
/// round-robin over the replicas it is told about (a new task and a fresh SVID per call). Every granted lease
/// is recorded; failures are counted by status (a replica that was just killed answers nothing).
/// </summary>
internal sealed class CredentialLoad : IDisposable
{
    private readonly BrokerFleet _fleet;
    private readonly Func<TimeSpan> _ttl;
    private readonly ConcurrentDictionary<Uri, BrokerClient> _clients = new();
    private volatile BrokerProcess[] _targets;
    private long _sequence;

    public CredentialLoad(BrokerFleet fleet, IEnumerable<BrokerProcess> targets, Func<TimeSpan> ttl)
    {
        _fleet = fleet;
        _ttl = ttl;
        _targets = [.. targets];
    }

    /// <summary>Lease id → the replica that granted it.</summary>
    public ConcurrentDictionary<string, string> Granted { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<StatusCode, int> Failures { get; } = new();

    /// <summary>Replaces the replicas new calls go to (calls in flight finish where they started).</summary>
    public void Retarget(IEnumerable<BrokerProcess> targets) => _targets = [.. targets];

    /// <summary>Runs the workers until <paramref name="cancellationToken"/> is cancelled.</summary>
    public Task RunAsync(int workers, CancellationToken cancellationToken) =>
        Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(() => WorkerAsync(cancellationToken), CancellationToken.None)));

    private async Task WorkerAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var targets = _targets;
            var n = Interlocked.Increment(ref _sequence);
            var target = targets[(int)(n % targets.Length)];
            var client = _clients.GetOrAdd(target.GrpcUri, uri => new BrokerClient(uri));
            var request = BrokerClient.NewRequest($"load-{n}", "tickets.read", BrokerFleet.TicketsAudience, ["zendesk"], ["tickets/1"], ttl: _ttl());
            try
            {
                var response = await client.RequestCredentialAsync(_fleet.Svid(), request, TimeSpan.FromSeconds(10), CancellationToken.None);
                Granted[response.LeaseId] = target.Name;
            }
            catch (RpcException ex)
            {
                Failures.AddOrUpdate(ex.StatusCode, 1, (_, c) => c + 1);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
            {
                Failures.AddOrUpdate(StatusCode.Unavailable, 1, (_, c) => c + 1);
            }
        }
    }

    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }
    }
}
