using System.Collections.Concurrent;
using System.Threading.Tasks.Sources;
using StackExchange.Redis;

namespace JitBroker.Redis;

/// <summary>
/// Writes the commands that concurrent callers issue close together as one StackExchange.Redis batch: one socket
/// write and one flush for all of them, so Redis reads them in one go.
/// </summary>
/// <remarks>
/// <para>
/// Why: StackExchange.Redis writes and flushes each command the moment it is issued unless its writer is busy at
/// that instant. At moderate concurrency it rarely is, so every command cost the broker a <c>sendto</c> and Redis a
/// read and an event-loop turn: 2.8× the broker's sends and 2.2× Redis' reads per request of the pipelining client
/// it replaced (docs/benchmarks.md, issue 14 item 9).
/// </para>
/// <para>
/// How: a command is queued and one drain is scheduled on the thread pool's global queue. Work already queued there
/// — typically the continuations of other requests whose replies arrived in the same read — runs first and queues
/// its commands too; the drain then writes everything queued as one batch. Order is kept: the queue is FIFO, a batch is
/// written as one block, and only one drain runs at a time. The price is one thread-pool hop before a command is written.
/// </para>
/// <para>
/// Semantics are those of sending each command on its own: each runs and fails on its own (a pipeline, not a
/// transaction), and a caller gets exactly its own reply or failure. A caller whose token is cancelled stops waiting at
/// once (its task is cancelled); the command itself still runs, and its failure, if any, is still reported.
/// </para>
/// <para>
/// Every command's failure — the library's, or one to write the batch — goes to <c>onFailure</c> (the connection notes
/// timeouts and READONLY there), whether or not its caller still waits. So the connection's own methods need no wrapper
/// or cancellation promise around the answer they hand back.
/// </para>
/// <para>
/// A caller gets a <see cref="ValueTask{TResult}"/> backed by a pooled <see cref="QueuedCommand"/> (await it once): no
/// promise, task or completion delegate per command (0.9 KiB per request at one call at a time, 0.45 at 128,
/// docs/benchmarks.md, 2026-12-06 night). A command goes back to the pool only when everyone who holds it has let go — the caller (once it
/// read its result), the drain (once the batch was written or failed), the library's task (once it completed and no
/// retry followed) and the cancellation registration (once removed or run) — so no late completion, failure or
/// cancellation can touch a command already reused; a stale <see cref="ValueTask{TResult}"/> is refused by its version,
/// a second read of a current one by the command's own flag.
/// </para>
/// </remarks>
internal sealed class CoalescedWrites(Action<Exception> onFailure) : IThreadPoolWorkItem
{
    /// <summary>Most idle commands kept for reuse: more than the commands in flight at any concurrency measured.</summary>
    private const int MaxPooled = 1024;

    private readonly Action<Exception> _onFailure = onFailure;
    private readonly ConcurrentQueue<QueuedCommand> _queue = new();
    private readonly ConcurrentQueue<QueuedCommand> _pool = new();
    private int _pooled;

    // The drain's scratch list, reused batch after batch: only the one drain that holds _draining touches it.
    private readonly List<QueuedCommand> _batch = [];
    private int _draining;

    /// <summary>Queues <paramref name="command"/> with <paramref name="args"/> for <paramref name="database"/>.</summary>
    public ValueTask<RedisResult> Execute(IDatabase database, string command, ICollection<object> args, CancellationToken cancellationToken) =>
        Queue(Rent().ForExecute(database, command, args), cancellationToken);

    /// <summary>
    /// Queues <c>EVALSHA</c> of <paramref name="script"/> for <paramref name="database"/>; when the server lost its script
    /// cache (restart, failover, <c>SCRIPT FLUSH</c>), the <c>NOSCRIPT</c> reply is not the answer: the source is sent
    /// once with <c>EVAL</c> (which caches it again) and that reply is.
    /// </summary>
    public ValueTask<RedisResult> Evaluate(IDatabase database, LuaScript script, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken) =>
        Queue(Rent().ForEval(database, script, keys, args), cancellationToken);

    private ValueTask<RedisResult> Queue(QueuedCommand command, CancellationToken cancellationToken)
    {
        var answer = command.Start(cancellationToken);
        _queue.Enqueue(command);
        if (Interlocked.CompareExchange(ref _draining, 1, 0) == 0)
        {
            // The global queue (not this thread's local one): what is already waiting there runs before the drain.
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }

        return answer;
    }

    private QueuedCommand Rent()
    {
        if (_pool.TryDequeue(out var command))
        {
            Interlocked.Decrement(ref _pooled);
            return command;
        }

        return new QueuedCommand(this);
    }

    private void Return(QueuedCommand command)
    {
        if (Interlocked.Increment(ref _pooled) <= MaxPooled)
        {
            _pool.Enqueue(command);
        }
        else
        {
            Interlocked.Decrement(ref _pooled);
        }
    }

    /// <summary>
    /// The drain: writes everything queued, batch after batch, until the queue is empty. Runs on the thread pool and never
    /// throws. At most one drain runs at a time (<see cref="_draining"/> is held from scheduling to the last check), so
    /// batches are written in the order their commands were queued: two drains dequeuing side by side could write a later
    /// command's batch before an earlier one's.
    /// </summary>
    void IThreadPoolWorkItem.Execute()
    {
        while (true)
        {
            DrainOnce();
            Volatile.Write(ref _draining, 0);
            // A command queued after the last dequeue and before the release found the flag held and scheduled nothing:
            // take it (unless a new queuer already took the flag and scheduled the next drain).
            if (_queue.IsEmpty || Interlocked.CompareExchange(ref _draining, 1, 0) != 0)
            {
                return;
            }
        }
    }

    private void DrainOnce()
    {
        if (!_queue.TryDequeue(out var first))
        {
            return;
        }

        if (!_queue.TryDequeue(out var second))
        {
            first.SendOn(first.Database!);
            first.Sent();
            return;
        }

        var batch = _batch;
        batch.Add(first);
        batch.Add(second);
        while (_queue.TryDequeue(out var next))
        {
            batch.Add(next);
        }

        try
        {
            WriteBatches(batch);
        }
        finally
        {
            // The drain lets go of every command only now: a batch that failed to write still fails its commands above.
            foreach (var command in batch)
            {
                command.Sent();
            }

            // Drops the references, so a completed command is not kept alive until the next batch.
            batch.Clear();
        }
    }

    /// <summary>One batch per database object (one, except while the connection is being replaced).</summary>
    private static void WriteBatches(List<QueuedCommand> commands)
    {
        var start = 0;
        for (var i = 1; i <= commands.Count; i++)
        {
            if (i == commands.Count || !ReferenceEquals(commands[i].Database, commands[start].Database))
            {
                WriteBatch(commands, start, i);
                start = i;
            }
        }
    }

    private static void WriteBatch(List<QueuedCommand> commands, int start, int end)
    {
        try
        {
            var batch = commands[start].Database!.CreateBatch();
            for (var i = start; i < end; i++)
            {
                commands[i].SendOn(batch);
            }

            batch.Execute();
        }
        catch (Exception ex)
        {
            // No server to write to (fail fast), or a connection being disposed: every command of the batch gets the
            // failure (one already completed keeps its outcome). Nothing may escape a thread-pool work item.
            for (var i = start; i < end; i++)
            {
                commands[i].Fail(ex);
            }
        }
    }

    /// <summary>
    /// One queued command, pooled: completes its caller's <see cref="ValueTask{TResult}"/> with the reply or failure of the
    /// command StackExchange.Redis sent, or with cancellation when the caller stops waiting first.
    /// </summary>
    private sealed class QueuedCommand : IValueTaskSource<RedisResult>
    {
        private static readonly Action<object?, CancellationToken> StopWaitingCallback =
            static (state, token) => ((QueuedCommand)state!).StopWaiting(token);

        private readonly CoalescedWrites _writes;

        // The library task's continuation, made once per pooled command (not once per command sent).
        private readonly Action _onSent;

        // Not RunContinuationsAsynchronously: the library's own task already completes asynchronously (off its reader
        // thread), and the caller's continuation runs right after, as it would awaiting the library's task directly.
        private ManualResetValueTaskSourceCore<RedisResult> _answer;

        // Who still holds this command (caller, drain, library task, cancellation registration); at 0 it goes back to the pool.
        private int _holders;

        // 1 once the caller's answer is claimed: by the reply or failure, or by cancellation — whichever comes first.
        private int _answered;

        // 1 once the caller read its answer: a second read is refused rather than letting go of the caller's hold twice.
        private int _consumed;

        // Default when the caller's token cannot be cancelled: its Unregister() is then false, as for a callback that ran.
        private CancellationTokenRegistration _stopWaiting;
        private Task<RedisResult>? _sent;

        private string? _command;
        private ICollection<object>? _args;
        private LuaScript? _script;
        private RedisKey[]? _keys;
        private RedisValue[]? _values;
        private bool _sentSource;

        public QueuedCommand(CoalescedWrites writes)
        {
            _writes = writes;
            _onSent = OnSent;
        }

        public IDatabase? Database { get; private set; }

        public QueuedCommand ForExecute(IDatabase database, string command, ICollection<object> args)
        {
            Database = database;
            _command = command;
            _args = args;
            return this;
        }

        public QueuedCommand ForEval(IDatabase database, LuaScript script, RedisKey[] keys, RedisValue[] args)
        {
            Database = database;
            _script = script;
            _keys = keys;
            _values = args;
            return this;
        }

        /// <summary>The caller's answer; the caller and the drain hold the command from here, and the registration when made.</summary>
        public ValueTask<RedisResult> Start(CancellationToken cancellationToken)
        {
            _holders = 2;
            _answered = 0;
            _consumed = 0;
            var answer = new ValueTask<RedisResult>(this, _answer.Version);
            if (cancellationToken.CanBeCanceled)
            {
                Interlocked.Increment(ref _holders);
                // Runs the callback at once when the token is already cancelled (it lets go of its own hold).
                _stopWaiting = cancellationToken.UnsafeRegister(StopWaitingCallback, this);
            }

            return answer;
        }

        public void SendOn(IDatabaseAsync target)
        {
            Task<RedisResult> sent;
            try
            {
                sent = _script is null ? target.ExecuteAsync(_command!, _args) : target.ScriptEvaluateAsync(_script.Sha1Bytes, _keys, _values);
            }
            catch (Exception ex)
            {
                Fail(ex);
                return;
            }

            Interlocked.Increment(ref _holders); // the library task's hold, let go in OnSent
            _sent = sent;
            Watch();
        }

        /// <summary>The drain is done with this command: written, failed, or handed to the library.</summary>
        public void Sent() => Release();

        public void Fail(Exception exception)
        {
            _writes._onFailure(exception);
            if (TryAnswer())
            {
                _answer.SetException(exception);
            }
        }

        // The completion is the library task's continuation itself (an Action, run where the task completes): no
        // continuation task and wrapper per command, as ContinueWith made.
        private void Watch() => _sent!.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onSent);

        private void OnSent()
        {
            var done = _sent!;
            if (done.IsFaulted && Retry(done.Exception!.InnerException!) is { } retry)
            {
                _sent = retry;
                Watch();
                return;
            }

            if (done.IsFaulted)
            {
                _writes._onFailure(done.Exception!.InnerException!);
            }

            if (TryAnswer())
            {
                if (done.IsCompletedSuccessfully)
                {
                    _answer.SetResult(done.Result);
                }
                else
                {
                    _answer.SetException(done.IsFaulted ? done.Exception!.InnerException! : new TaskCanceledException(done));
                }
            }

            Release();
        }

        // Runs where the NOSCRIPT reply completed: the EVAL goes out on its own (the batch it came in is long written).
        private Task<RedisResult>? Retry(Exception failure)
        {
            if (_script is null || _sentSource || failure is not RedisServerException { Kind: RedisErrorKind.NoScript })
            {
                return null;
            }

            _sentSource = true;
            try
            {
                return Database!.ScriptEvaluateAsync(_script.Source, _keys, _values);
            }
            catch (Exception ex)
            {
                return Task.FromException<RedisResult>(ex);
            }
        }

        private void StopWaiting(CancellationToken token)
        {
            if (TryAnswer())
            {
                _answer.SetException(new TaskCanceledException("A task was canceled.", null, token));
            }

            Release();
        }

        /// <summary>Claims the caller's answer (true once per use) and removes the cancellation registration, if any.</summary>
        private bool TryAnswer()
        {
            if (Interlocked.Exchange(ref _answered, 1) != 0)
            {
                return false;
            }

            // Removed before it ran: its hold is let go here. Otherwise it ran or is running, and lets go itself.
            if (_stopWaiting.Unregister())
            {
                Release();
            }

            return true;
        }

        private void Release()
        {
            if (Interlocked.Decrement(ref _holders) != 0)
            {
                return;
            }

            Database = null;
            _command = null;
            _args = null;
            _script = null;
            _keys = null;
            _values = null;
            _sentSource = false;
            _sent = null;
            _stopWaiting = default;
            _answer.Reset();
            _writes.Return(this);
        }

        public RedisResult GetResult(short token)
        {
            // A stale, early or second read (a ValueTask awaited twice, or read before completion) is refused before the
            // caller's hold is let go: letting go twice could hand this command to another caller while it is still in use.
            if (_answer.GetStatus(token) == ValueTaskSourceStatus.Pending || Interlocked.Exchange(ref _consumed, 1) != 0)
            {
                throw new InvalidOperationException("A command's ValueTask is awaited once, after it completed.");
            }

            try
            {
                return _answer.GetResult(token);
            }
            finally
            {
                Release();
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _answer.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _answer.OnCompleted(continuation, state, token, flags);
    }
}
