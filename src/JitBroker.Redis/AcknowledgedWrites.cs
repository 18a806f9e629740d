using StackExchange.Redis;

namespace JitBroker.Redis;

/// <summary>
/// Durable writes with <see cref="RedisOptions.MinReplicasToAck"/>: group commit. Scripts from concurrent callers
/// are sent together as one batch followed by ONE <c>WAIT</c>; while that batch waits for its replicas, new writes
/// gather and go out as the next batch. One <c>WAIT</c> is in flight at a time.
/// </summary>
/// <remarks>
/// <para>
/// Why one batch: the library writes a batch's commands back to back on one connection, and <c>WAIT</c> covers
/// everything that connection wrote before it. Sent separately, a reconnect in between would put the <c>WAIT</c> on a
/// fresh connection that has written nothing — to a newly promoted primary, say — and it would "acknowledge" writes
/// the new primary never saw.
/// </para>
/// <para>
/// Why group commit: <c>WAIT</c> blocks the connection on the server until the replicas answer, so every command
/// behind it waits one replica round trip. One <c>WAIT</c> per write would serialise all durable writes (and the
/// reads queued between them) on that round trip; one per batch pays it once for all writes that arrived meanwhile.
/// </para>
/// <para>
/// After a <c>WAIT</c> came back short, durable writes fail at once without being sent for
/// max(1 s, <see cref="RedisOptions.ReplicaAckTimeout"/>): while the replicas are away nothing is written, and the
/// shared connection is not held by one <c>WAIT</c> timeout after another. After that window the next batch is
/// preceded by a bare <c>WAIT</c> (a probe: it covers only what the connection wrote before, and writes nothing); only
/// when enough replicas answer it is the batch sent. So real writes are never the probe: a write whose
/// acknowledgement comes back short — a mark that may be on the primary or may vanish, a lease record for a
/// credential not handed out — happens only when replicas disappear between the last good <c>WAIT</c> and the batch.
/// </para>
/// </remarks>
internal sealed class AcknowledgedWrites(
    RedisOptions options,
    TimeProvider time,
    Func<CancellationToken, ValueTask<IDatabase>> database,
    Func<Task<RedisResult>, Task<RedisResult>> watch,
    Action<long> onTooFewReplicas)
{
    /// <summary>Most scripts per batch: bounds one batch's size on the wire and the work Redis does before its <c>WAIT</c>.</summary>
    internal const int MaxBatch = 256;

    private readonly Lock _gate = new();
    private readonly long _ackTimeoutMs = (long)Math.Ceiling(options.ReplicaAckTimeout.TotalMilliseconds);
    private List<Pending> _pending = [];
    private bool _flushing;
    private long _unreplicatedUntil;
    private volatile bool _probeFirst;

    public Task<RedisResult> WriteAsync(LuaScript script, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (RefusingWrites())
        {
            return Task.FromException<RedisResult>(NotSent());
        }

        var write = new Pending(script, keys, args);
        bool start;
        lock (_gate)
        {
            _pending.Add(write);
            start = !_flushing;
            _flushing = true;
        }

        if (start)
        {
            _ = Task.Run(FlushLoopAsync, CancellationToken.None);
        }

        // Cancelling abandons the wait only: a write already sent still runs, like any other command.
        return write.Done.Task.WaitAsync(cancellationToken);
    }

    private bool RefusingWrites()
    {
        var until = Volatile.Read(ref _unreplicatedUntil);
        return until != 0 && time.GetTimestamp() < until;
    }

    /// <summary>Durable writes fail unsent for a moment, and the next batch after that waits for a probe.</summary>
    private void RefuseForAWhile(long replicas)
    {
        var window = options.ReplicaAckTimeout < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : options.ReplicaAckTimeout;
        Volatile.Write(ref _unreplicatedUntil, time.GetTimestamp() + (long)(window.TotalSeconds * time.TimestampFrequency));
        _probeFirst = true;
        onTooFewReplicas(replicas);
    }

    private RedisNotReplicatedException NotSent() => new(
        $"Fewer than {options.MinReplicasToAck} replica(s) acknowledged a recent write; ledger writes are refused for a moment (not sent).");

    private async Task FlushLoopAsync()
    {
        while (true)
        {
            List<Pending> batch;
            lock (_gate)
            {
                if (_pending.Count == 0)
                {
                    _flushing = false;
                    return;
                }

                if (_pending.Count <= MaxBatch)
                {
                    batch = _pending;
                    _pending = [];
                }
                else
                {
                    batch = _pending.GetRange(0, MaxBatch);
                    _pending.RemoveRange(0, MaxBatch);
                }
            }

            await FlushAsync(batch).ConfigureAwait(false);
        }
    }

    /// <summary>Sends one batch and settles every write in it; never throws.</summary>
    private async Task FlushAsync(List<Pending> writes)
    {
        if (RefusingWrites())
        {
            writes.ForEach(w => w.Done.TrySetException(NotSent()));
            return;
        }

        IDatabase db;
        try
        {
            db = await database(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            writes.ForEach(w => w.Done.TrySetException(ex));
            return;
        }

        if (_probeFirst)
        {
            Exception? probeFailure = null;
            try
            {
                var replicas = (await watch(db.ExecuteAsync("WAIT", [options.MinReplicasToAck, _ackTimeoutMs])).ConfigureAwait(false)).AsInt64();
                if (replicas < options.MinReplicasToAck)
                {
                    RefuseForAWhile(replicas);
                    probeFailure = NotSent();
                }
            }
            catch (Exception ex)
            {
                probeFailure = ex;
            }

            if (probeFailure is not null)
            {
                writes.ForEach(w => w.Done.TrySetException(probeFailure));
                return;
            }

            _probeFirst = false;
        }

        var batch = db.CreateBatch();
        var sent = writes.Select(w => watch(w.Resend
            ? batch.ScriptEvaluateAsync(w.Script.Source, w.Keys, w.Args)
            : batch.ScriptEvaluateAsync(w.Script.Sha1Bytes, w.Keys, w.Args))).ToArray();
        var acknowledged = watch(batch.ExecuteAsync("WAIT", [options.MinReplicasToAck, _ackTimeoutMs]));
        batch.Execute();

        Exception? ackFailure = null;
        try
        {
            // The WAIT's reply comes after every script's (replies arrive in order).
            var replicas = (await acknowledged.ConfigureAwait(false)).AsInt64();
            if (replicas < options.MinReplicasToAck)
            {
                RefuseForAWhile(replicas);
                ackFailure = new RedisNotReplicatedException(
                    $"{replicas} of {options.MinReplicasToAck} required replica(s) acknowledged the write within {_ackTimeoutMs} ms.");
            }
        }
        catch (Exception ex)
        {
            ackFailure = ex;
        }

        List<Pending>? resend = null;
        for (var i = 0; i < writes.Count; i++)
        {
            try
            {
                var result = await sent[i].ConfigureAwait(false);
                if (ackFailure is null)
                {
                    writes[i].Done.TrySetResult(result);
                }
                else
                {
                    writes[i].Done.TrySetException(ackFailure);
                }
            }
            catch (RedisServerException ex) when (ex.Kind == RedisErrorKind.NoScript && !writes[i].Resend)
            {
                // The server lost its script cache (restart, failover, SCRIPT FLUSH): the next batch sends the source.
                writes[i].Resend = true;
                (resend ??= []).Add(writes[i]);
            }
            catch (Exception ex)
            {
                writes[i].Done.TrySetException(ex);
            }
        }

        if (resend is not null)
        {
            lock (_gate)
            {
                _pending.InsertRange(0, resend);
            }
        }
    }

    private sealed class Pending(LuaScript script, RedisKey[] keys, RedisValue[] args)
    {
        public LuaScript Script { get; } = script;

        public RedisKey[] Keys { get; } = keys;

        public RedisValue[] Args { get; } = args;

        public bool Resend { get; set; }

        public TaskCompletionSource<RedisResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
