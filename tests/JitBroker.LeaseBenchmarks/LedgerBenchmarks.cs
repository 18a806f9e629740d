using System.Diagnostics;
using System.Globalization;
using JitBroker.Core;
using JitBroker.Ha.Tests.Harness;
using JitBroker.Redis;
using JitBroker.Redis.Tests.Harness;

namespace JitBroker.LeaseBenchmarks;

/// <summary>The measurements; each starts its own redis-server (AOF off: memory and speed of the data structures, not the disk).</summary>
internal sealed class LedgerBenchmarks(IReadOnlyDictionary<string, string> brokerOverrides)
{
    private static readonly TimeProvider Time = TimeProvider.System;

    /// <summary>
    /// Writes <paramref name="count"/> active leases (expiring in 2 h, so none is due), reports INFO used_memory
    /// per lease, then times broker start-up against that Redis and against an empty one, alternately.
    /// </summary>
    /// <summary>What one lease hash holds: each field's name and value length (the listpack adds 2–3 bytes per entry).</summary>
    private static async Task PrintLeaseFieldsAsync(LeaseLedger ledger, string key)
    {
        var flat = (await ledger.Redis.ExecuteAsync("HGETALL", [key])).AsArray();
        var parts = new List<string>();
        var total = 0;
        for (var i = 0; i + 1 < flat.Length; i += 2)
        {
            var (name, value) = (flat[i].AsString()!, ((byte[])flat[i + 1]!).Length);
            parts.Add(F($"{name} {name.Length}+{value}"));
            total += name.Length + value;
        }

        Console.WriteLine(F($"  lease hash: {flat.Length / 2} fields, {total} bytes of names and values (name+value): {string.Join(", ", parts)}"));
    }

    /// <summary>Every kind of key the ledger wrote (by the part of its name before the id), sampled with MEMORY USAGE and scaled by its count.</summary>
    private static async Task PrintKeyKindsAsync(LeaseLedger ledger, int leases, long usedDelta)
    {
        var kinds = new Dictionary<string, (long Count, string Sample)>(StringComparer.Ordinal);
        var cursor = "0";
        do
        {
            var reply = (await ledger.Redis.ExecuteAsync("SCAN", [cursor, "COUNT", 10000])).AsArray();
            cursor = reply[0].AsString()!;
            foreach (var k in reply[1].AsArray())
            {
                var name = k.AsString()!;
                var brace = name.IndexOf('{', StringComparison.Ordinal);
                var kind = brace < 0 ? name : name[..brace];
                kinds[kind] = kinds.TryGetValue(kind, out var seen) ? (seen.Count + 1, seen.Sample) : (1, name);
            }
        }
        while (cursor != "0");

        long accounted = 0;
        foreach (var (kind, (n, sample)) in kinds.OrderByDescending(k => k.Value.Count))
        {
            var bytes = (await ledger.Redis.ExecuteAsync("MEMORY", ["USAGE", sample, "SAMPLES", "0"])).AsInt64();
            // One sample stands for every key of its kind: exact for the fixed-shape kinds, an estimate for sets of varying size.
            var estimate = n == 1 ? bytes : bytes * n;
            accounted += estimate;
            Console.WriteLine(F($"  {kind}*: {n:N0} key(s), MEMORY USAGE of one {bytes:N0} bytes → {estimate / (double)leases:0.0} per lease"));
        }

        Console.WriteLine(F($"  not in any key's MEMORY USAGE (the keyspace's own hash table, allocator rounding): {(usedDelta - accounted) / (double)leases:0.0} per lease"));
    }

    public async Task MemoryAndStartupAsync(int count, int startupRuns)
    {
        await using var full = await RedisServerProcess.StartServerAsync();
        await using var ledger = LeaseLedger.Connect(full.Endpoint);
        var version = (await ledger.InfoAsync("server"))["redis_version"];
        var before = await ledger.UsedMemoryAsync();
        var now = Time.GetUtcNow();
        var writing = Stopwatch.StartNew();
        var ids = await ledger.PutManyAsync(count, i => LeaseLedger.NewLease(i, now, now + TimeSpan.FromHours(2) + TimeSpan.FromMilliseconds(i)));
        var wrote = writing.Elapsed;
        var after = await ledger.UsedMemoryAsync();
        var counts = await ledger.Store.CountByStateAsync();
        Console.WriteLine($"## Memory per active lease (redis-server {version})");
        Console.WriteLine(F($"wrote {count:N0} leases in {wrote.TotalSeconds:0.0} s ({count / wrote.TotalSeconds:N0} puts/s, 2,000 in flight on one connection); active now {counts[LeaseState.Active]:N0}"));
        Console.WriteLine(F($"used_memory {before:N0} → {after:N0} bytes: **{(after - before) / (double)count:0} bytes per active lease**"));
        var keys = (await ledger.Redis.ExecuteAsync("DBSIZE", [])).AsInt64();
        Console.WriteLine(F($"keys {keys:N0}"));
        foreach (var key in new[] { $"{LeaseLedger.KeyPrefix}lease:{{{ids[0]}}}", $"{LeaseLedger.KeyPrefix}due", $"{LeaseLedger.KeyPrefix}ids" })
        {
            var bytes = (await ledger.Redis.ExecuteAsync("MEMORY", ["USAGE", key, "SAMPLES", "0"])).AsInt64();
            Console.WriteLine(F($"  MEMORY USAGE {key}: {bytes:N0} bytes ({bytes / (double)count:0.0} per lease)"));
        }

        var sampleTask = (await ledger.Redis.ExecuteAsync("KEYS", [$"{LeaseLedger.KeyPrefix}task:*coder-0|task-00000000}}"])).AsArray();
        if (sampleTask.Length == 1)
        {
            var taskBytes = (await ledger.Redis.ExecuteAsync("MEMORY", ["USAGE", sampleTask[0].AsString()!, "SAMPLES", "0"])).AsInt64();
            Console.WriteLine(F($"  MEMORY USAGE one task set (4 leases): {taskBytes:N0} bytes"));
        }

        await PrintLeaseFieldsAsync(ledger, $"{LeaseLedger.KeyPrefix}lease:{{{ids[0]}}}");
        await PrintKeyKindsAsync(ledger, count, after - before);
        Console.WriteLine();
        if (startupRuns == 0)
        {
            return;
        }

        await using var empty = await RedisServerProcess.StartServerAsync();
        await using var emptyLedger = LeaseLedger.Connect(empty.Endpoint);
        await using var fleet = BrokerFleet.Create();
        Console.WriteLine($"## Broker start-up (process start → /readyz 200), {startupRuns} runs each, alternating");
        var results = new List<(int Leases, double Ms, long Commands, long Bytes)>();
        for (var run = 0; run < startupRuns; run++)
        {
            foreach (var (leases, redis, probe) in new[] { (0, empty, emptyLedger), (count, full, ledger) })
            {
                results.Add(await StartOnceAsync(fleet, $"startup-{leases}-{run}", leases, redis, probe));
            }
        }

        Console.WriteLine("| active leases | runs (ms) | best (ms) | median (ms) | Redis commands during start-up (excl. PING) | bytes Redis sent |");
        Console.WriteLine("|---:|---|---:|---:|---:|---:|");
        foreach (var group in results.GroupBy(r => r.Leases))
        {
            var ms = group.Select(g => g.Ms).Order().ToList();
            Console.WriteLine(F($"| {group.Key:N0} | {string.Join(", ", group.Select(g => g.Ms.ToString("0", CultureInfo.InvariantCulture)))} | {ms[0]:0} | {ms[ms.Count / 2]:0} | {string.Join("/", group.Select(g => g.Commands))} | {string.Join("/", group.Select(g => g.Bytes))} |"));
        }

        Console.WriteLine();
    }

    /// <summary>Writes <paramref name="count"/> leases that all fall due at one instant and times a broker revoking them.</summary>
    public async Task SweepThroughputAsync(int count)
    {
        var (leases, dueAt) = await RevokeAllAsync(count, TimeSpan.Zero);
        var revoked = leases.Select(l => l.RevokedAt!.Value).Order().ToList();
        var total = (revoked[^1] - dueAt).TotalSeconds;
        var spread = (revoked[^1] - revoked[0]).TotalSeconds;
        Console.WriteLine("## Sweeper throughput (JWT leases, one broker process)");
        Console.WriteLine(F($"{count:N0} leases due at the same instant: first revoked {(revoked[0] - dueAt).TotalMilliseconds:0} ms after it, last {total:0.00} s after it"));
        Console.WriteLine(F($"**{(count - 1) / spread:N0} revocations/s** (first to last revocation); {count / total:N0}/s including the wait for the first sweep"));
        Console.WriteLine();
    }

    /// <summary>Writes <paramref name="count"/> leases expiring evenly over <paramref name="window"/> and reports expiry → revoked.</summary>
    public async Task LagAsync(int count, TimeSpan window)
    {
        var (leases, firstExpiry) = await RevokeAllAsync(count, window);
        var lags = leases.Select(l => (l.RevokedAt!.Value - l.ExpiresAt).TotalMilliseconds).Order().ToList();
        Console.WriteLine(F($"## Revocation lag, {count:N0} leases expiring within {window.TotalSeconds:0} s ({count / window.TotalSeconds:N0}/s)"));
        Console.WriteLine("| p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | min (ms) | all revoked after the first expiry (s) |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
        Console.WriteLine(F($"| {LeaseLedger.Percentile(lags, 50):0} | {LeaseLedger.Percentile(lags, 90):0} | {LeaseLedger.Percentile(lags, 99):0} | {lags[^1]:0} | {lags[0]:0} | {(leases.Max(l => l.RevokedAt!.Value) - firstExpiry).TotalSeconds:0.00} |"));
        Console.WriteLine();
    }

    /// <summary>
    /// A broker process on a fresh Redis; <paramref name="count"/> leases written to expire over <paramref name="window"/>
    /// starting safely after the writes end; waits until all are revoked and returns them with the first expiry.
    /// </summary>
    private async Task<(List<Lease> Leases, DateTimeOffset FirstExpiry)> RevokeAllAsync(int count, TimeSpan window)
    {
        await using var redis = await RedisServerProcess.StartServerAsync();
        await using var fleet = BrokerFleet.Create();
        var broker = fleet.Start("sweeper", redis.Endpoint, brokerOverrides);
        await broker.WaitReadyAsync(TimeSpan.FromSeconds(60));
        await using var ledger = LeaseLedger.Connect(redis.Endpoint);
        var now = Time.GetUtcNow();
        var firstExpiry = now + TimeSpan.FromSeconds(5 + count / 8_000.0);
        var ids = await ledger.PutManyAsync(count, i => LeaseLedger.NewLease(i, now, firstExpiry + window * ((double)i / count)));
        if (Time.GetUtcNow() >= firstExpiry)
        {
            throw new InvalidOperationException("Writing the leases took longer than planned; the measurement would be wrong.");
        }

        var brokerCpu = Cpu.OfProcess(broker.Pid);
        var redisCpu = await Cpu.OfRedisAsync(ledger);
        if (!await ledger.WaitForCountsAsync(LeaseLedger.NothingLeftToRevoke, firstExpiry + window + TimeSpan.FromMinutes(5) - Time.GetUtcNow()))
        {
            throw new TimeoutException("Not every lease was revoked within 5 minutes:\n" + broker.Tail());
        }

        brokerCpu = Cpu.OfProcess(broker.Pid) - brokerCpu;
        redisCpu = await Cpu.OfRedisAsync(ledger) - redisCpu;
        Console.WriteLine(F($"CPU while revoking: broker {brokerCpu.TotalSeconds:0.00} s ({brokerCpu.TotalMilliseconds * 1000 / count:0} µs per lease), redis-server {redisCpu.TotalSeconds:0.00} s ({redisCpu.TotalMilliseconds * 1000 / count:0} µs per lease; includes this program's polling)"));

        var leases = (await ledger.GetManyAsync(ids)).Select(l => l ?? throw new InvalidOperationException("A lease vanished.")).ToList();
        return (leases, firstExpiry);
    }

    private static async Task<(int, double, long, long)> StartOnceAsync(BrokerFleet fleet, string name, int leases, RedisServerProcess redis, LeaseLedger probe)
    {
        var commands = await probe.CommandCallsAsync();
        var bytes = await probe.BytesSentAsync();
        await using var broker = fleet.Start(name, redis.Endpoint);
        var ready = await broker.WaitReadyAsync(TimeSpan.FromSeconds(120));
        broker.Kill();
        var ran = await probe.CommandCallsAsync() - commands - 1;
        var sent = await probe.BytesSentAsync() - bytes;
        return (leases, ready.TotalMilliseconds, ran, sent);
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
