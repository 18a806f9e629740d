using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Threading.Channels;
using JitBroker.Redis.Resp;

namespace JitBroker.Redis;

/// <summary>
/// One socket to one server. Callers queue commands on an outbox; a single writer loop moves each command
/// to the in-flight FIFO <em>before</em> writing its bytes, and a single reader loop pairs every reply with
/// the head of that FIFO — RESP2 answers in order, so order is the only correlation there is.
/// </summary>
/// <remarks>
/// Once the order can no longer be trusted (a reply is late past the command timeout, a read or write
/// failed, a protocol error) the connection is faulted for good: every pending command fails and the owner
/// opens a new connection. Never resynchronise: a late reply matched to the wrong caller would hand one
/// caller another's data.
/// </remarks>
internal sealed class RedisPhysicalConnection : IAsyncDisposable
{
    private const int FlushThreshold = 64 * 1024;

    private readonly Stream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly Channel<PendingCommand> _outbox =
        Channel.CreateUnbounded<PendingCommand>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentQueue<PendingCommand> _inflight = new();
    private readonly TaskCompletionSource<Exception> _faulted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _shutdown = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan _commandTimeout;
    private readonly ITimer _watchdog;
    private Task _loops = Task.CompletedTask;

    public RedisPhysicalConnection(Stream stream, RedisEndpoint endpoint, TimeProvider time, TimeSpan commandTimeout)
    {
        _stream = stream;
        Endpoint = endpoint;
        _time = time;
        _commandTimeout = commandTimeout;
        _input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        _output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        // Checking only the oldest in-flight command is enough: anything behind it cannot be answered first.
        var period = TimeSpan.FromTicks(Math.Clamp(commandTimeout.Ticks / 5, TimeSpan.TicksPerMillisecond * 10, TimeSpan.TicksPerSecond));
        _watchdog = time.CreateTimer(static state => ((RedisPhysicalConnection)state!).CheckTimeouts(), this, period, period);
    }

    public RedisEndpoint Endpoint { get; }

    public bool IsFaulted => _faulted.Task.IsCompleted;

    /// <summary>Completes with the reason once the connection is unusable.</summary>
    public Task<Exception> Faulted => _faulted.Task;

    public void Start() =>
        _loops = Task.WhenAll(Task.Run(WriteLoopAsync), Task.Run(ReadLoopAsync));

    public Task<RedisValue> SendAsync(string command, IReadOnlyList<RedisArg> args, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<RedisValue>(cancellationToken);
        }

        var pending = new PendingCommand(command, args, _time.GetTimestamp());
        pending.AttachCancellation(cancellationToken);
        if (!_outbox.Writer.TryWrite(pending))
        {
            pending.Fail(CopyOf(_faulted.Task.IsCompleted ? _faulted.Task.Result : new RedisConnectionException("The Redis connection is closed.")));
        }

        return pending.Task;
    }

    /// <summary>Makes the connection unusable and fails everything pending on it. Only the first reason counts.</summary>
    public void Fault(Exception reason)
    {
        if (!_faulted.TrySetResult(reason))
        {
            return;
        }

        _outbox.Writer.TryComplete();
        _shutdown.Cancel();
        _watchdog.Dispose();
        try
        {
            _stream.Dispose();
        }
        catch (Exception)
        {
            // Closing a broken stream may throw; the connection is gone either way.
        }

        FailPending(reason);
    }

    public async ValueTask DisposeAsync()
    {
        Fault(new RedisConnectionException("The Redis connection was closed by the client."));
        try
        {
            await _loops.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The loops only end by faulting, which has been reported already.
        }

        _shutdown.Dispose();
    }

    private async Task WriteLoopAsync()
    {
        var outbox = _outbox.Reader;
        try
        {
            while (await outbox.WaitToReadAsync(_shutdown.Token).ConfigureAwait(false))
            {
                while (outbox.TryRead(out var pending))
                {
                    if (pending.Task.IsCompleted)
                    {
                        continue; // cancelled before it was sent: nothing on the wire, nothing to match
                    }

                    _inflight.Enqueue(pending);
                    RespWriter.WriteCommand(_output, pending.Command, pending.Args);
                    if (_output.CanGetUnflushedBytes && _output.UnflushedBytes >= FlushThreshold)
                    {
                        await FlushAsync().ConfigureAwait(false);
                    }
                }

                // The outbox is empty for now: everything written so far goes out in one flush.
                await FlushAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (!_shutdown.IsCancellationRequested)
        {
            Fault(new RedisConnectionException($"Writing to Redis at {Endpoint} failed: {ex.Message}", ex));
        }
        catch (Exception)
        {
            // Shut down by Fault: already reported.
        }
        finally
        {
            // This loop is the only producer of in-flight entries: after it stops, nothing can be left behind.
            FailPending(_faulted.Task.IsCompleted ? _faulted.Task.Result : new RedisConnectionException("The Redis connection is closed."));
        }
    }

    private async ValueTask FlushAsync()
    {
        var result = await _output.FlushAsync(_shutdown.Token).ConfigureAwait(false);
        if (result.IsCompleted || result.IsCanceled)
        {
            throw new RedisConnectionException("The connection stopped accepting writes.");
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                var result = await _input.ReadAsync(_shutdown.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                var reader = new SequenceReader<byte>(buffer);
                while (true)
                {
                    var attempt = reader;
                    if (!RespParser.TryRead(ref attempt, out var reply))
                    {
                        break;
                    }

                    reader = attempt;
                    Dispatch(reply);
                }

                _input.AdvanceTo(reader.Position, buffer.End);
                if (result.IsCompleted)
                {
                    Fault(new RedisConnectionException($"Redis at {Endpoint} closed the connection."));
                    return;
                }
            }
        }
        catch (Exception ex) when (!_shutdown.IsCancellationRequested)
        {
            Fault(ex as RedisConnectionException ?? new RedisConnectionException($"Reading from Redis at {Endpoint} failed: {ex.Message}", ex));
        }
        catch (Exception)
        {
            // Shut down by Fault: already reported.
        }
    }

    private void Dispatch(RedisValue reply)
    {
        if (!_inflight.TryDequeue(out var pending))
        {
            throw new RedisConnectionException($"Redis at {Endpoint} sent a reply no command was waiting for.");
        }

        pending.Complete(reply);
        if (reply.Kind == RedisValueKind.Error && reply.AsString()!.StartsWith("READONLY", StringComparison.Ordinal))
        {
            // The server was demoted to a replica (failover): drop it so the next command rediscovers the master.
            Fault(new RedisConnectionException($"Redis at {Endpoint} is a read-only replica now; reconnecting to the master."));
        }
    }

    private void CheckTimeouts()
    {
        if (_inflight.TryPeek(out var oldest) && _time.GetElapsedTime(oldest.StartedAt) > _commandTimeout)
        {
            Fault(new RedisTimeoutException(
                $"Redis at {Endpoint} did not answer {oldest.Command} within {_commandTimeout.TotalMilliseconds:0} ms; the connection was reset and its pending commands failed."));
        }
    }

    private void FailPending(Exception reason)
    {
        while (_outbox.Reader.TryRead(out var queued))
        {
            queued.Fail(CopyOf(reason));
        }

        while (_inflight.TryDequeue(out var sent))
        {
            sent.Fail(CopyOf(reason));
        }
    }

    /// <summary>A fresh exception per waiter: one instance thrown on many threads would interleave its stack traces.</summary>
    private static Exception CopyOf(Exception reason) => reason switch
    {
        RedisTimeoutException timeout => new RedisTimeoutException(timeout.Message),
        RedisConnectionException connection => new RedisConnectionException(connection.Message, connection.InnerException),
        _ => new RedisConnectionException(reason.Message, reason),
    };
}
