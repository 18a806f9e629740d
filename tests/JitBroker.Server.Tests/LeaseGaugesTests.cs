using System.Diagnostics.Metrics;
using JitBroker.Core;
using JitBroker.Leases;
using JitBroker.Testing;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>Issue 16 item 7: the gauges' refresh runs on the injected clock and stops with the host's token.</summary>
[CancelAfter(30_000)]
public sealed class LeaseGaugesTests
{
    [Test]
    public async Task The_active_lease_gauge_refreshes_when_the_injected_clock_passes_five_seconds()
    {
        var time = TestClock.Create();
        var store = new InMemoryLeaseStore();
        using var metrics = new BrokerMetrics();
        using var gauges = new LeaseGauges(store, new ApprovalService(new InMemoryApprovalStore(), time), metrics, time);
        long? active = null;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, metrics.Meter) && instrument.Name == "jitbroker.leases.active")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => active = value);
        listener.Start();

        await gauges.StartAsync(CancellationToken.None);
        Assert.That(await WaitForAsync(() => Read(listener, ref active) == 0), Is.True, "the first refresh runs at start");
        var now = time.GetUtcNow();
        await store.PutAsync(new Lease
        {
            LeaseId = LeaseIds.New(), TaskId = "t", AgentId = "spiffe://example.org/a", IssuerKind = "jwt", BackendHandle = "h",
            Scope = new GrantedScope("aud", "x.read", [], []), IssuedAt = now, ExpiresAt = now.AddMinutes(5),
            CredentialFingerprint = "sha256:" + new string('c', 64),
        });

        Assert.That(Read(listener, ref active), Is.Zero, "not refreshed before the clock moves");
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.That(await WaitForAsync(() => Read(listener, ref active) == 1), Is.True,
            "refreshed by the fake clock's five seconds, well before five real ones");
        await gauges.StopAsync(CancellationToken.None);
        Assert.That(gauges.ExecuteTask!.IsCompleted, Is.True, "the loop ends with the stopping token");
    }

    private static long? Read(MeterListener listener, ref long? value)
    {
        listener.RecordObservableInstruments();
        return value;
    }

    // The refresh runs on the thread pool after the fake timer fires: poll its visible effect for at most two real
    // seconds — less than the five a system-clock timer would take, so only the injected clock can satisfy it.
    private static async Task<bool> WaitForAsync(Func<bool> condition)
    {
        var started = TimeProvider.System.GetTimestamp();
        while (!condition())
        {
            if (TimeProvider.System.GetElapsedTime(started) > TimeSpan.FromSeconds(2))
            {
                return false;
            }

            await Task.Delay(10);
        }

        return true;
    }
}
