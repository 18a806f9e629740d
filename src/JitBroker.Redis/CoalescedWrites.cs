using System.Collections.Concurrent;
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
/// or cancellation promise around the task they hand back.
/// </para>
/// </remarks>
internal sealed class CoalescedWrites(Action<Exception> onFailure) : IThreadPoolWorkItem
{
    private readonly ConcurrentQueue<QueuedCommand> _queue = new();

    // The drain's scratch list, reused batch after batch: only the one drain that holds _draining touches it.
    private readonly List<QueuedCommand> _batch = [];
    private int _draining;

    /// <summary>Queues <paramref name="command"/> with <paramref name="args"/> for <paramref name="database"/>.</summary>
    public Task<RedisResult> Execute(IDatabase database, string command, ICollection<object> args, CancellationToken cancellationToken) =>
        Queue(new QueuedExecute(database, onFailure, command, args), cancellationToken);

    /// <summary>
    /// Queues <c>EVALSHA</c> of <paramref name="script"/> for <paramref name="database"/>; when the server lost its script
    /// cache (restart, failover, <c>SCRIPT FLUSH</c>), the <c>NOSCRIPT</c> reply is not the answer: the source is sent
    /// once with <c>EVAL</c> (which caches it again) and that reply is.
    /// </summary>
    public Task<RedisResult> Evaluate(IDatabase database, LuaScript script, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken) =>
        Queue(new QueuedEval(database, onFailure, script, keys, args), cancellationToken);

    private Task<RedisResult> Queue(QueuedCommand command, CancellationToken cancellationToken)
    {
        command.StopWaitingOn(cancellationToken);
        _queue.Enqueue(command);
        if (Interlocked.CompareExchange(ref _draining, 1, 0) == 0)
        {
            // The global queue (not this thread's local one): what is already waiting there runs before the drain.
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }

        return command.Task;
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
            first.SendOn(first.Database);
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
            // Drops the references, so a completed command's task is not kept alive until the next batch.
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
            var batch = commands[start].Database.CreateBatch();
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

    /// <summary>One queued command: completes with the reply or failure of the command StackExchange.Redis sent.</summary>
    private abstract class QueuedCommand(IDatabase database, Action<Exception> onFailure) : TaskCompletionSource<RedisResult>
    {
        // Not RunContinuationsAsynchronously: the library's own task already completes asynchronously (off its reader
        // thread), and the caller's continuation runs right after, as it would awaiting the library's task directly.
        private Task<RedisResult>? _sent;
        private CancellationTokenRegistration _stopWaiting;

        public IDatabase Database { get; } = database;

        protected abstract Task<RedisResult> Send(IDatabaseAsync target);

        /// <summary>A second command to send instead of failing with <paramref name="failure"/>, or null to fail.</summary>
        protected virtual Task<RedisResult>? Retry(Exception failure) => null;

        /// <summary>Cancels the caller's task when <paramref name="cancellationToken"/> is (the command still runs).</summary>
        public void StopWaitingOn(CancellationToken cancellationToken)
        {
            if (cancellationToken.CanBeCanceled)
            {
                _stopWaiting = cancellationToken.UnsafeRegister(static (state, token) => ((QueuedCommand)state!).TrySetCanceled(token), this);
            }
        }

        public void SendOn(IDatabaseAsync target)
        {
            try
            {
                _sent = Send(target);
            }
            catch (Exception ex)
            {
                Fail(ex);
                return;
            }

            CompleteWhenSent();
        }

        // The completion is the library task's continuation itself (an Action, run where the task completes): no
        // continuation task and wrapper per command, as ContinueWith made.
        private void CompleteWhenSent() => _sent!.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(Complete);

        public void Fail(Exception exception)
        {
            _stopWaiting.Unregister();
            onFailure(exception);
            TrySetException(exception);
        }

        private void Complete()
        {
            var done = _sent!;
            if (done.IsFaulted && Retry(done.Exception!.InnerException!) is { } retry)
            {
                _sent = retry;
                CompleteWhenSent();
                return;
            }

            _stopWaiting.Unregister();
            if (done.IsCompletedSuccessfully)
            {
                TrySetResult(done.Result);
            }
            else if (done.IsFaulted)
            {
                onFailure(done.Exception!.InnerException!);
                TrySetException(done.Exception!.InnerExceptions);
            }
            else
            {
                TrySetCanceled();
            }
        }
    }

    private sealed class QueuedExecute(IDatabase database, Action<Exception> onFailure, string command, ICollection<object> args)
        : QueuedCommand(database, onFailure)
    {
        protected override Task<RedisResult> Send(IDatabaseAsync target) => target.ExecuteAsync(command, args);
    }

    private sealed class QueuedEval(IDatabase database, Action<Exception> onFailure, LuaScript script, RedisKey[] keys, RedisValue[] args)
        : QueuedCommand(database, onFailure)
    {
        private bool _sentSource;

        protected override Task<RedisResult> Send(IDatabaseAsync target) => target.ScriptEvaluateAsync(script.Sha1Bytes, keys, args);

        // Runs where the NOSCRIPT reply completed: the EVAL goes out on its own (the batch it came in is long written).
        protected override Task<RedisResult>? Retry(Exception failure)
        {
            if (_sentSource || failure is not RedisServerException { Kind: RedisErrorKind.NoScript })
            {
                return null;
            }

            _sentSource = true;
            try
            {
                return Database.ScriptEvaluateAsync(script.Source, keys, args);
            }
            catch (Exception ex)
            {
                return System.Threading.Tasks.Task.FromException<RedisResult>(ex);
            }
        }
    }
}
