using System.Diagnostics;
using System.Globalization;
using JitBroker.Leases.Redis;
using JitBroker.Redis;

namespace JitBroker.PerfHarness;

/// <summary>
/// The Redis the harness measures against: one server (<c>--redis</c>) or the primaries of a Redis Cluster
/// (<c>--redis-cluster</c>, ledger split into <see cref="RedisKeyLayout.Buckets"/> buckets). Data goes through the
/// broker's own connection class; per-node administration (flush, command counts, process ids) goes to each node
/// with <c>redis-cli</c>, because in cluster mode the library routes a keyless command to any primary.
/// </summary>
internal sealed class RedisUnderTest : IAsyncDisposable
{
    private RedisUnderTest(RedisConnection connection, IReadOnlyList<string> nodes, RedisKeyLayout layout, int[] pids)
    {
        Connection = connection;
        Nodes = nodes;
        Layout = layout;
        Pids = pids;
    }

    public RedisConnection Connection { get; }

    /// <summary>host:port of each server (the primaries of a cluster).</summary>
    public IReadOnlyList<string> Nodes { get; }

    public RedisKeyLayout Layout { get; }

    public int[] Pids { get; }

    public bool IsCluster => Nodes.Count > 1;

    public static async Task<RedisUnderTest> ConnectAsync(HarnessOptions options)
    {
        var cluster = options.ClusterNodes.Count > 0;
        var connection = new RedisConnection(new RedisOptions
        {
            Endpoint = cluster ? null : options.Redis,
            ClusterEndpoints = cluster ? [.. options.ClusterNodes] : [],
            Buckets = cluster ? options.Buckets : 1,
            CommandTimeout = TimeSpan.FromSeconds(30),
            AllowAdminCommands = true,
        });
        await connection.ConnectAsync().ConfigureAwait(false);
        IReadOnlyList<string> nodes = cluster ? options.ClusterNodes : [options.Redis];
        var pids = new int[nodes.Count];
        for (var i = 0; i < nodes.Count; i++)
        {
            pids[i] = int.Parse(Field(await CliAsync(nodes[i], "INFO", "server").ConfigureAwait(false), "process_id"), CultureInfo.InvariantCulture);
        }

        return new RedisUnderTest(connection, nodes, new RedisKeyLayout("jitbroker:", cluster ? options.Buckets : 1), pids);
    }

    /// <summary>Broker settings that point a broker process at the Redis of <paramref name="options"/>.</summary>
    public static IEnumerable<KeyValuePair<string, string>> BrokerSettings(HarnessOptions options)
    {
        if (options.ClusterNodes.Count == 0)
        {
            yield return new("JitBroker:Redis:Endpoint", options.Redis);
            yield break;
        }

        for (var i = 0; i < options.ClusterNodes.Count; i++)
        {
            yield return new($"JitBroker:Redis:ClusterEndpoints:{i}", options.ClusterNodes[i]);
        }

        yield return new("JitBroker:Redis:Buckets", options.Buckets.ToString(CultureInfo.InvariantCulture));
    }

    public RedisLeaseStore LeaseStore() => new(Connection, Layout, TimeSpan.FromHours(1));

    public string LeaseKey(string leaseId) => $"{Layout.BucketPrefix(Layout.BucketOf(leaseId))}lease:{{{leaseId}}}";

    public async Task FlushAsync()
    {
        foreach (var node in Nodes)
        {
            await CliAsync(node, "FLUSHALL").ConfigureAwait(false);
        }
    }

    /// <summary>Leases still due, over every bucket.</summary>
    public async Task<long> DueAsync()
    {
        long due = 0;
        for (var b = 0; b < Layout.Buckets; b++)
        {
            due += (await Connection.ExecuteAsync("ZCARD", [(StackExchange.Redis.RedisKey)(Layout.BucketPrefix(b) + "due")]).ConfigureAwait(false)).AsInt64();
        }

        return due;
    }

    /// <summary>Commands executed so far by command name, summed over the nodes (INFO commandstats).</summary>
    public async Task<Dictionary<string, long>> CommandCallsAsync()
    {
        var calls = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var node in Nodes)
        {
            foreach (var (command, count) in RedisAdmin.ParseCommandStats(await CliAsync(node, "INFO", "commandstats").ConfigureAwait(false)))
            {
                calls[command] = calls.GetValueOrDefault(command) + count;
            }
        }

        return calls;
    }

    /// <summary>Forks so far, summed over the nodes (INFO stats total_forks: AOF rewrites and snapshots).</summary>
    public async Task<long> ForksAsync()
    {
        long forks = 0;
        foreach (var node in Nodes)
        {
            forks += long.Parse(Field(await CliAsync(node, "INFO", "stats").ConfigureAwait(false), "total_forks"), CultureInfo.InvariantCulture);
        }

        return forks;
    }

    public ValueTask DisposeAsync() => Connection.DisposeAsync();

    private static async Task<string> CliAsync(string node, params string[] command)
    {
        var colon = node.LastIndexOf(':');
        var info = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-h", node[..colon], "-p", node[(colon + 1)..] }.Concat(command))
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("redis-cli did not start.");
        var output = await process.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
        await process.WaitForExitAsync().ConfigureAwait(false);
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"redis-cli {string.Join(' ', command)} on {node} failed: {await process.StandardError.ReadToEndAsync().ConfigureAwait(false)}");
    }

    private static string Field(string info, string name) =>
        info.Split('\n').First(l => l.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..].Trim();
}
