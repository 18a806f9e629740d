using System.Globalization;
using JitBroker.Core;
using JitBroker.Ha.Tests.Harness;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Ha.Tests;

/// <summary>
/// Issue 5, proof 5: a broker's start-up does not grow with the number of active leases. Broker processes are
/// started against an empty Redis and against one holding 200,000 active leases (alternately, three times each),
/// and time-to-ready (process start → <c>/readyz</c> 200) is compared. Because wall-clock start-up on a shared
/// 2-core box is noisy, the test also checks what Redis saw during each start-up: the commands it ran (those called
/// inside scripts included, PINGs of the readiness probe excluded) and the bytes it sent — loading leases would
/// show up there as hundreds of thousands of commands and tens of megabytes.
/// </summary>
/// <remarks>STARTUP_LEASES overrides the count (the 1,000,000-lease run is the benchmark program's).</remarks>
[TestFixture]
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class StartupTimeTests
{
    private const int Runs = 3;

    [Test]
    public async Task Time_to_ready_is_the_same_with_zero_and_with_200k_active_leases(CancellationToken cancellationToken)
    {
        var count = int.Parse(Environment.GetEnvironmentVariable("STARTUP_LEASES") ?? "200000", CultureInfo.InvariantCulture);
        await using var empty = await RedisServerProcess.StartServerAsync();
        await using var full = await RedisServerProcess.StartServerAsync();
        await using var emptyLedger = LeaseLedger.Connect(empty.Endpoint);
        await using var fullLedger = LeaseLedger.Connect(full.Endpoint);
        var now = TimeProvider.System.GetUtcNow();
        await fullLedger.PutManyAsync(count, i => LeaseLedger.NewLease(i, now, now + TimeSpan.FromHours(1) + TimeSpan.FromMilliseconds(i)), cancellationToken: cancellationToken);
        Assert.That((await fullLedger.Store.CountByStateAsync(cancellationToken))[LeaseState.Active], Is.EqualTo(count));

        await using var fleet = BrokerFleet.Create();
        var samples = new List<(bool Full, TimeSpan Ready, long Commands, long BytesOut)>();
        for (var run = 0; run < Runs; run++)
        {
            foreach (var (isFull, redis, ledger) in new[] { (false, empty, emptyLedger), (true, full, fullLedger) })
            {
                samples.Add(await StartOnceAsync(fleet, $"{(isFull ? "full" : "empty")}-{run}", isFull, redis, ledger, cancellationToken));
            }
        }

        var emptyReady = samples.Where(s => !s.Full).Min(s => s.Ready);
        var fullReady = samples.Where(s => s.Full).Min(s => s.Ready);
        TestContext.Progress.WriteLine($"[startup] {count} active leases; " + string.Join("; ", samples.Select(s =>
            $"{(s.Full ? "full" : "empty")} ready {s.Ready.TotalMilliseconds:0} ms, {s.Commands} commands, {s.BytesOut} bytes out")));

        Assert.Multiple(() =>
        {
            // Best of three each way; the tolerance absorbs the noise of a shared box, not an O(N) load of 200k leases.
            Assert.That(fullReady, Is.LessThanOrEqualTo(emptyReady * 1.5 + TimeSpan.FromMilliseconds(500)),
                $"time to ready with {count} leases ({fullReady}) vs with none ({emptyReady})");
            Assert.That(samples.Select(s => s.Commands), Has.All.LessThan(500), "no per-lease commands during start-up");
            Assert.That(samples.Select(s => s.BytesOut), Has.All.LessThan(256 * 1024), "no lease data read during start-up");
        });
    }

    private static async Task<(bool, TimeSpan, long, long)> StartOnceAsync(BrokerFleet fleet, string name, bool isFull,
        RedisServerProcess redis, LeaseLedger ledger, CancellationToken cancellationToken)
    {
        var commands = await ledger.CommandCallsAsync(cancellationToken);
        var bytes = await ledger.BytesSentAsync(cancellationToken);
        await using var broker = fleet.Start(name, redis.Endpoint);
        var ready = await broker.WaitReadyAsync(TimeSpan.FromSeconds(60), cancellationToken);
        broker.Kill();
        // Minus the INFO calls this method itself makes in between.
        var ranCommands = await ledger.CommandCallsAsync(cancellationToken) - commands - 1;
        var sentBytes = await ledger.BytesSentAsync(cancellationToken) - bytes;
        return (isFull, ready, ranCommands, sentBytes);
    }
}
