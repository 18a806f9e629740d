using System.Diagnostics;
using System.Globalization;
using NUnit.Framework;

namespace JitBroker.Redis.Tests.Harness;

/// <summary>
/// A real Redis Cluster on 127.0.0.1: six <c>redis-server --cluster-enabled yes</c> processes (free data and bus ports,
/// own temp directories), joined by <c>redis-cli --cluster create … --cluster-replicas 1</c> into 3 primaries + 3
/// replicas, ready once every node reports <c>cluster_state:ok</c> and every replica's link is up. The default user has
/// <see cref="DocumentedAcl.AdminPassword"/> (and replicas authenticate with it); the documented ACL users are created on
/// every node (ACLs are per node). Disposing kills every process and deletes the directories.
/// </summary>
internal sealed class RedisClusterProcess : IAsyncDisposable
{
    public const int NodeTimeoutMs = 2000;
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private RedisClusterProcess(IReadOnlyList<RedisServerProcess> nodes) => Nodes = nodes;

    public IReadOnlyList<RedisServerProcess> Nodes { get; }

    public IReadOnlyList<string> Endpoints => [.. Nodes.Select(n => n.Endpoint)];

    public static async Task<RedisClusterProcess> StartAsync(int nodeTimeoutMs = NodeTimeoutMs)
    {
        var nodes = new List<RedisServerProcess>();
        try
        {
            for (var i = 0; i < 6; i++)
            {
                nodes.Add(await RedisServerProcess.StartServerAsync(
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-port", RedisServerProcess.FreePort().ToString(CultureInfo.InvariantCulture),
                    "--cluster-node-timeout", nodeTimeoutMs.ToString(CultureInfo.InvariantCulture),
                    // As docs/redis.md recommends: the shards that still have a primary keep serving while one fails over.
                    "--cluster-require-full-coverage", "no",
                    "--requirepass", DocumentedAcl.AdminPassword, "--masterauth", DocumentedAcl.AdminPassword));
            }

            var cluster = new RedisClusterProcess(nodes);
            var created = await cluster.CliAsync(null, ["--cluster", "create", .. cluster.Endpoints, "--cluster-replicas", "1", "--cluster-yes"], TimeSpan.FromSeconds(30));
            Assert.That(created, Does.Contain("All 16384 slots covered"), "redis-cli --cluster create failed: " + created);
            foreach (var node in nodes)
            {
                await cluster.CliAsync(node, ["ACL", .. DocumentedAcl.SetUserArguments(DocumentedAcl.BrokerUser, DocumentedAcl.BrokerPassword)]);
                await cluster.CliAsync(node, ["ACL", .. DocumentedAcl.SetUserArguments(DocumentedAcl.AuditUser, DocumentedAcl.AuditPassword)]);
            }

            await cluster.WaitHealthyAsync(ReadyTimeout);
            return cluster;
        }
        catch
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>Waits until every live node says <c>cluster_state:ok</c>, three primaries serve slots and every replica's link is up.</summary>
    public async Task WaitHealthyAsync(TimeSpan timeout, IReadOnlyCollection<RedisServerProcess>? skip = null)
    {
        var clock = Stopwatch.StartNew();
        var last = "";
        while (clock.Elapsed < timeout)
        {
            var healthy = true;
            foreach (var node in Nodes.Where(n => skip?.Contains(n) != true))
            {
                var info = await CliAsync(node, ["CLUSTER", "INFO"]);
                var replication = await CliAsync(node, ["INFO", "replication"]);
                if (!info.Contains("cluster_state:ok", StringComparison.Ordinal)
                    || (replication.Contains("role:slave", StringComparison.Ordinal) && !replication.Contains("master_link_status:up", StringComparison.Ordinal)))
                {
                    healthy = false;
                    last = $"{node.Endpoint}: {info.Split('\n')[0]} {replication.Replace('\n', ' ')}";
                    break;
                }
            }

            if (healthy && (await PrimariesAsync(skip)).Count == 3)
            {
                return;
            }

            await Task.Delay(200);
        }

        Assert.Fail($"The cluster did not become healthy within {timeout}: {last}");
    }

    /// <summary>The nodes currently serving slots as primaries, by the view of a live node.</summary>
    public async Task<List<RedisServerProcess>> PrimariesAsync(IReadOnlyCollection<RedisServerProcess>? skip = null)
    {
        var observer = Nodes.First(n => skip?.Contains(n) != true);
        var lines = (await CliAsync(observer, ["CLUSTER", "NODES"])).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var primaries = new List<RedisServerProcess>();
        foreach (var line in lines)
        {
            var fields = line.Split(' ');
            // <id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot> …
            if (fields.Length > 8 && fields[2].Contains("master", StringComparison.Ordinal) && !fields[2].Contains("fail", StringComparison.Ordinal))
            {
                var port = int.Parse(fields[1].Split('@')[0].Split(':')[1], CultureInfo.InvariantCulture);
                primaries.AddRange(Nodes.Where(n => n.Port == port));
            }
        }

        return primaries;
    }

    /// <summary>A replica of <paramref name="primary"/>.</summary>
    public async Task<RedisServerProcess> ReplicaOfAsync(RedisServerProcess primary)
    {
        var id = (await CliAsync(primary, ["CLUSTER", "MYID"])).Trim();
        foreach (var node in Nodes.Where(n => n != primary))
        {
            var nodes = await CliAsync(node, ["CLUSTER", "NODES"]);
            var self = nodes.Split('\n').FirstOrDefault(l => l.Contains("myself", StringComparison.Ordinal));
            if (self is not null && self.Split(' ')[3] == id)
            {
                return node;
            }
        }

        throw new AssertionException($"No replica of {primary.Endpoint} found.");
    }

    /// <summary>Runs redis-cli as the default (admin) user against <paramref name="node"/> (or without -h/-p when null) and returns its output.</summary>
    public async Task<string> CliAsync(RedisServerProcess? node, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(RedisServerProcess.FindBinary("redis-cli")) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.Environment["REDISCLI_AUTH"] = DocumentedAcl.AdminPassword;
        if (node is not null)
        {
            info.ArgumentList.Add("-h");
            info.ArgumentList.Add("127.0.0.1");
            info.ArgumentList.Add("-p");
            info.ArgumentList.Add(node.Port.ToString(CultureInfo.InvariantCulture));
        }

        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start redis-cli.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout ?? TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return await output + await error;
    }

    /// <summary>Every ACL refusal logged on any live node.</summary>
    public async Task<List<string>> RefusalsAsync(IReadOnlyCollection<RedisServerProcess>? skip = null)
    {
        var refusals = new List<string>();
        foreach (var node in Nodes.Where(n => skip?.Contains(n) != true))
        {
            var log = await CliAsync(node, ["ACL", "LOG"]);
            var lines = log.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            for (var i = 0; i + 1 < lines.Length; i++)
            {
                if (lines[i] is "reason" or "object")
                {
                    refusals.Add($"{node.Endpoint} {lines[i]}={lines[i + 1]}");
                }
            }
        }

        return refusals;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }
    }
}
