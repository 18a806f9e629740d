using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace JitBroker.ToolGuard;

/// <summary>Where calls are reported: never blocks, never throws; a full buffer drops the oldest report and counts it.</summary>
public interface IUseReporter
{
    void Report(CredentialUse use);

    /// <summary>Reports dropped since start (also the <c>jitbroker.toolguard.uses_dropped</c> counter).</summary>
    long Dropped { get; }
}

/// <summary>A bounded channel between the request path and <see cref="UseReportSender"/>.</summary>
internal sealed class UseReporter : IUseReporter, IDisposable
{
    public const string MeterName = "JitBroker.ToolGuard";
    public const string DroppedCounterName = "jitbroker.toolguard.uses_dropped";
    public const string RejectedCounterName = "jitbroker.toolguard.uses_rejected";
    public const string ReasonTag = "reason";

    private readonly Channel<CredentialUse> _channel;
    private readonly Meter _meter;
    private readonly Counter<long> _droppedCounter;
    private readonly Counter<long> _rejectedCounter;
    private readonly bool _enabled;
    private long _dropped;
    private long _rejected;

    public UseReporter(IOptions<ToolGuardOptions> options, IMeterFactory meters)
    {
        var o = options.Value.UseReports;
        _enabled = o.Enabled;
        _meter = meters.Create(MeterName);
        _droppedCounter = _meter.CreateCounter<long>(DroppedCounterName, "{use}", "Use reports dropped because the buffer was full");
        _rejectedCounter = _meter.CreateCounter<long>(RejectedCounterName, "{use}", "Use reports the broker received and did not record, by its reason");
        _channel = Channel.CreateBounded<CredentialUse>(
            new BoundedChannelOptions(o.BufferSize) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ => Drop());
    }

    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Reports the broker answered as rejected since start (also <c>jitbroker.toolguard.uses_rejected</c>).</summary>
    internal long Rejected => Interlocked.Read(ref _rejected);

    internal ChannelReader<CredentialUse> Reader => _channel.Reader;

    public void Report(CredentialUse use)
    {
        if (_enabled && !_channel.Writer.TryWrite(use))
        {
            Drop(); // completed at shutdown
        }
    }

    internal void Complete() => _channel.Writer.TryComplete();

    /// <summary>A batch the broker did not take is lost like a dropped report, and counted the same way.</summary>
    internal void CountLost(int count)
    {
        Interlocked.Add(ref _dropped, count);
        _droppedCounter.Add(count);
    }

    /// <summary>Uses the broker took delivery of but did not record (a bug or a misconfiguration on one side: never retried).</summary>
    internal void CountRejected(string reason, int count)
    {
        Interlocked.Add(ref _rejected, count);
        _rejectedCounter.Add(count, new KeyValuePair<string, object?>(ReasonTag, reason));
    }

    private void Drop() => CountLost(1);

    public void Dispose() => _meter.Dispose();
}
