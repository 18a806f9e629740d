using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace JitBroker.Redis;

/// <summary>
/// The connection the stores share: one StackExchange.Redis <see cref="ConnectionMultiplexer"/>, created on
/// first use, configured by <see cref="RedisConfiguration"/> (RESP2, fail fast, no admin commands). Thread-safe;
/// register one per process.
/// </summary>
/// <remarks>
/// <para>
/// Reconnecting is the library's: a broken connection is re-established in the background with capped
/// exponential backoff (<see cref="RedisOptions.ReconnectBaseDelay"/>, <see cref="RedisOptions.ReconnectMaxDelay"/>).
/// Meanwhile commands fail at once with <see cref="RedisConnectionException"/> (<see cref="BacklogPolicy.FailFast"/>),
/// so a Redis outage surfaces as a prompt UNAVAILABLE, never as a hang or a queue.
/// </para>
/// <para>
/// With Sentinel the library resolves the primary by service name, follows <c>+switch-master</c> and drops a
/// connection whose server turns out to be a replica. Commands are never retried: after a connection failure
/// the caller cannot know whether a write ran, and only the caller knows whether repeating it is safe.
/// </para>
/// </remarks>
public sealed partial class RedisConnection : IRedisConnection, IAsyncDisposable
{
    private readonly RedisOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Lock _gate = new();
    private readonly AcknowledgedWrites? _acknowledged;
    private readonly CoalescedWrites _writes;
    private ConnectionMultiplexer? _multiplexer;
    private Task<ConnectionMultiplexer>? _connecting;
    private long _retryAfter;
    private string? _lastError;
    private bool _disposed;
    private long _suspectUntil;
    private long _nextRebuild;

    /// <exception cref="ArgumentException">The options are invalid (all problems are listed).</exception>
    public RedisConnection(RedisOptions options, TimeProvider? time = null, ILogger<RedisConnection>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid Redis options: " + string.Join(" ", problems), nameof(options));
        }

        _options = options;
        _time = time ?? TimeProvider.System;
        _log = logger ?? (ILogger)NullLogger.Instance;
        _writes = new CoalescedWrites(Note);
        if (options.MinReplicasToAck > 0)
        {
            _acknowledged = new AcknowledgedWrites(options, _time, DatabaseAsync, Watch, replicas => LogNotReplicated(_log, replicas, options.MinReplicasToAck));
        }
    }

    /// <summary>The primary the connection currently writes to, or null while none is connected.</summary>
    public RedisEndpoint? CurrentEndpoint => CurrentEndpointOf(Volatile.Read(ref _multiplexer));

    private static RedisEndpoint? CurrentEndpointOf(ConnectionMultiplexer? multiplexer) =>
        multiplexer?.GetServers().FirstOrDefault(s => s is { IsConnected: true, IsReplica: false, ServerType: not ServerType.Sentinel })?.EndPoint switch
        {
            IPEndPoint ip => new RedisEndpoint(ip.Address.ToString(), ip.Port),
            DnsEndPoint dns => new RedisEndpoint(dns.Host, dns.Port),
            _ => null,
        };

    /// <summary>Connects now and checks with <c>PING</c> (a start-up check) instead of on the first command. Throws when Redis cannot be reached.</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        var database = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        await database.PingAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<RedisResult> ExecuteAsync(string command, IReadOnlyList<object> args, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        ArgumentNullException.ThrowIfNull(args);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RedisResult>(cancellationToken);
        }

        // Connected (the usual case): the queued command's own pooled answer is the answer — its failures are noted and
        // its cancellation handled where it completes (CoalescedWrites), so no async wrapper is needed around it.
        var database = DatabaseAsync(cancellationToken);
        var collection = args as ICollection<object> ?? [.. args];
        return database.IsCompletedSuccessfully
            ? _writes.Execute(database.Result, command, collection, cancellationToken)
            : ExecuteWhenConnectedAsync(database, command, collection, cancellationToken);
    }

    private async ValueTask<RedisResult> ExecuteWhenConnectedAsync(ValueTask<IDatabase> database, string command, ICollection<object> args,
        CancellationToken cancellationToken) =>
        await _writes.Execute(await database.ConfigureAwait(false), command, args, cancellationToken).ConfigureAwait(false);

    public async Task<RedisResult[]> ExecuteManyAsync(IReadOnlyList<PipelinedCommand> commands, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(commands);
        for (var i = 0; i < commands.Count; i++) // indexed: foreach over the interface boxes an enumerator per call
        {
            ArgumentException.ThrowIfNullOrEmpty(commands[i].Command);
            ArgumentNullException.ThrowIfNull(commands[i].Args);
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (commands.Count == 0)
        {
            return [];
        }

        var database = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        // A batch is written to the socket as one block (no other caller's command in between) when Execute is called.
        var batch = database.CreateBatch();
        if (commands.Count == 1)
        {
            // Still a batch, so the library writes it exactly as before; only the task array and the WhenAll are spared.
            // Sending a lone command with IDatabase.ExecuteAsync (or through the coalesced writes) saved more, but the
            // revocation sweeps measured with it were slower and the machine's drift left the cause open
            // (docs/benchmarks.md, 2026-12-05 afternoon): the audit mirror's write path is not changed on that evidence.
            var only = batch.ExecuteAsync(commands[0].Command, commands[0].Args);
            batch.Execute();
            try
            {
                return [await only.WaitAsync(cancellationToken).ConfigureAwait(false)];
            }
            catch (Exception ex) when (NoteFailure(ex, only))
            {
                throw; // not reached: the filter only looks
            }
        }

        var sent = new Task<RedisResult>[commands.Count];
        for (var i = 0; i < sent.Length; i++)
        {
            sent[i] = batch.ExecuteAsync(commands[i].Command, commands[i].Args);
        }

        batch.Execute();
        try
        {
            return await Task.WhenAll(sent).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (NoteFailure(ex, sent[^1]))
        {
            throw; // not reached: the filter only looks
        }
    }

    public ValueTask<RedisResult> EvalAsync(LuaScript script, IReadOnlyList<RedisKey> keys, IReadOnlyList<RedisValue> args, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(script);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(args);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RedisResult>(cancellationToken);
        }

        // As ExecuteAsync: connected, the queued script's own pooled answer is the answer. It also re-sends the source when the
        // server lost its script cache (NOSCRIPT), so that needs no async wrapper either.
        var keyArray = keys as RedisKey[] ?? [.. keys];
        var argArray = args as RedisValue[] ?? [.. args];
        var database = DatabaseAsync(cancellationToken);
        return database.IsCompletedSuccessfully
            ? _writes.Evaluate(database.Result, script, keyArray, argArray, cancellationToken)
            : EvalWhenConnectedAsync(database, script, keyArray, argArray, cancellationToken);
    }

    private async ValueTask<RedisResult> EvalWhenConnectedAsync(ValueTask<IDatabase> database, LuaScript script, RedisKey[] keys, RedisValue[] args,
        CancellationToken cancellationToken) =>
        await _writes.Evaluate(await database.ConfigureAwait(false), script, keys, args, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    /// <remarks>Group commit: see <see cref="AcknowledgedWrites"/>.</remarks>
    public ValueTask<RedisResult> EvalDurableAsync(LuaScript script, IReadOnlyList<RedisKey> keys, IReadOnlyList<RedisValue> args, CancellationToken cancellationToken = default)
    {
        if (_acknowledged is null)
        {
            return EvalAsync(script, keys, args, cancellationToken);
        }

        ArgumentNullException.ThrowIfNull(script);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(args);
        return new ValueTask<RedisResult>(_acknowledged.WriteAsync(script, keys as RedisKey[] ?? [.. keys], args as RedisValue[] ?? [.. args], cancellationToken));
    }

    public async Task<bool> PingAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var database = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
            await database.PingAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        ConnectionMultiplexer? multiplexer;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            multiplexer = _multiplexer;
            _multiplexer = null;
        }

        if (multiplexer is not null)
        {
            await multiplexer.CloseAsync(allowCommandsToComplete: false).ConfigureAwait(false);
            await multiplexer.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// After a command timed out, the server is suspect (hung, SIGSTOPped, overloaded) while the library still
    /// counts the connection as up: every further command would wait out its own timeout, and a request that
    /// needs several Redis calls would take several timeouts. So for one <see cref="RedisOptions.CommandTimeout"/>
    /// after a timeout, commands fail at once (fail fast, as while disconnected) unless a probe <c>PING</c>
    /// answers first.
    /// </summary>
    /// <remarks>
    /// The same applies to <c>READONLY</c> with Sentinel (<see cref="RebuildAfterReadOnly"/>). Commands are written
    /// through <see cref="CoalescedWrites"/> (concurrent callers' commands share a socket write), which hands every
    /// failure to <see cref="Note"/> as it completes; the few commands sent directly (a batch, the EVAL after NOSCRIPT)
    /// are noted by <see cref="NoteFailure"/>, an exception filter that never catches. <see cref="Watch"/> wraps a
    /// command for callers that hold only its task.
    /// </remarks>
    private async Task<RedisResult> Watch(Task<RedisResult> command)
    {
        try
        {
            return await command.ConfigureAwait(false);
        }
        catch (Exception ex) when (NoteFailure(ex, command))
        {
            throw; // not reached: the filter only looks
        }
    }

    /// <summary>
    /// Notes what a failed command says about the server; returns false, so as an exception filter it never catches.
    /// A caller that stopped waiting (cancelled) still gets its command's failure noted when it comes.
    /// </summary>
    private bool NoteFailure(Exception exception, Task<RedisResult> sent)
    {
        if (exception is OperationCanceledException && !sent.IsCompleted)
        {
            sent.ContinueWith(static (command, state) => ((RedisConnection)state!).Note(command.Exception!.InnerException!), this,
                CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        else
        {
            Note(exception);
        }

        return false;
    }

    private void Note(Exception exception)
    {
        if (exception is RedisTimeoutException && !_options.UsesCluster)
        {
            // Not on a cluster: a shard that timed out says nothing about the others, which must keep serving while
            // it fails over (the library already fails commands for an unreachable shard fast).
            Volatile.Write(ref _suspectUntil, _time.GetTimestamp() + (long)(_options.CommandTimeout.TotalSeconds * _time.TimestampFrequency));
            _ = ProbeAsync();
        }
        else if (exception is RedisServerException { Kind: RedisErrorKind.ReadOnly } && _options.UsesSentinel)
        {
            RebuildAfterReadOnly();
        }
    }

    /// <summary>
    /// With Sentinel, <c>READONLY</c> means the server the library treats as primary was demoted. The library follows
    /// a failover when it hears <c>+switch-master</c> or loses the connection; if neither happens (a missed message,
    /// a demotion the sentinels did not announce that way) it would keep writing to the replica until its periodic
    /// configuration check, a minute later. So the client is rebuilt, which asks the sentinels for the primary again
    /// — at most once per second (or <see cref="RedisOptions.ReconnectBaseDelay"/>, if longer). The old client is
    /// closed after one command timeout, so commands already sent on it finish or time out as usual.
    /// </summary>
    private void RebuildAfterReadOnly()
    {
        ConnectionMultiplexer? old;
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            if (_disposed || now < _nextRebuild || _multiplexer is null)
            {
                return;
            }

            var pause = _options.ReconnectBaseDelay > TimeSpan.FromSeconds(1) ? _options.ReconnectBaseDelay : TimeSpan.FromSeconds(1);
            _nextRebuild = now + (long)(pause.TotalSeconds * _time.TimestampFrequency);
            old = _multiplexer;
            _multiplexer = null;
        }

        LogDemoted(_log, CurrentEndpointOf(old)?.ToString() ?? "?");
        _ = CloseLaterAsync(old);
    }

    private async Task CloseLaterAsync(ConnectionMultiplexer multiplexer)
    {
        try
        {
            await Task.Delay(_options.CommandTimeout, _time).ConfigureAwait(false);
            await multiplexer.CloseAsync(allowCommandsToComplete: true).ConfigureAwait(false);
            await multiplexer.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex) || ex is ObjectDisposedException)
        {
            // Closing a client that is being replaced: nothing to recover.
        }
    }

    private async Task ProbeAsync()
    {
        try
        {
            var multiplexer = Volatile.Read(ref _multiplexer);
            if (multiplexer is not null)
            {
                await multiplexer.GetDatabase().PingAsync().ConfigureAwait(false);
                Volatile.Write(ref _suspectUntil, 0);
            }
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex) || ex is ObjectDisposedException)
        {
            // Still suspect: the window runs out by itself.
        }
    }

    private async ValueTask<IDatabase> DatabaseAsync(CancellationToken cancellationToken)
    {
        var suspectUntil = Volatile.Read(ref _suspectUntil);
        if (suspectUntil != 0 && _time.GetTimestamp() < suspectUntil)
        {
            throw new RedisTimeoutException(CommandFlags.None, "Redis did not answer within the command timeout; failing fast until it answers again.", CommandStatus.Unknown);
        }

        var multiplexer = Volatile.Read(ref _multiplexer) ?? await ConnectOnceAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return multiplexer.GetDatabase();
    }

    /// <summary>
    /// Creates the multiplexer, shared by every caller waiting. With <c>AbortOnConnectFail = false</c> that
    /// succeeds even while Redis is down (the library keeps reconnecting); it fails only when Sentinel cannot
    /// name a primary at all. Then further attempts wait out <see cref="RedisOptions.ReconnectBaseDelay"/>,
    /// and calls before that fail at once.
    /// </summary>
    private Task<ConnectionMultiplexer> ConnectOnceAsync()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_multiplexer is { } ready)
            {
                return Task.FromResult(ready);
            }

            if (_connecting is null)
            {
                var wait = _time.GetElapsedTime(_time.GetTimestamp(), _retryAfter);
                if (_retryAfter != 0 && wait > TimeSpan.Zero)
                {
                    throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, CommandFlags.None,
                        $"Redis is unreachable ({_lastError}); the next connection attempt is in {wait.TotalMilliseconds:0} ms.", null, CommandStatus.Unknown);
                }

                _connecting = Task.Run(CreateAsync);
            }

            return _connecting;
        }
    }

    private async Task<ConnectionMultiplexer> CreateAsync()
    {
        try
        {
            var multiplexer = await ConnectionMultiplexer.ConnectAsync(RedisConfiguration.Build(_options)).ConfigureAwait(false);
            multiplexer.ConnectionFailed += (_, e) => LogConnectionFailed(_log, e.EndPoint, e.FailureType, e.Exception);
            multiplexer.ConnectionRestored += (_, e) => LogConnectionRestored(_log, e.EndPoint);
            lock (_gate)
            {
                _connecting = null;
                if (_disposed)
                {
                    multiplexer.Dispose();
                    throw new ObjectDisposedException(nameof(RedisConnection));
                }

                _multiplexer = multiplexer;
                _retryAfter = 0;
            }

            LogCreated(_log, _options.UsesSentinel ? string.Join(",", _options.SentinelEndpoints)
                : _options.UsesCluster ? string.Join(",", _options.ClusterEndpoints) : _options.Endpoint!, _options.UsesSentinel);
            return multiplexer;
        }
        catch (Exception ex) when (ex is not ObjectDisposedException)
        {
            lock (_gate)
            {
                _connecting = null;
                _lastError = ex.Message;
                _retryAfter = _time.GetTimestamp() + (long)(_options.ReconnectBaseDelay.TotalSeconds * _time.TimestampFrequency);
            }

            LogCreateFailed(_log, ex);
            throw ex as RedisConnectionException ?? new RedisConnectionException(ConnectionFailureType.UnableToConnect, CommandFlags.None, "Connecting to Redis failed: " + ex.Message, ex, CommandStatus.Unknown);
        }
    }

    [LoggerMessage(EventId = 5001, EventName = "RedisConnected", Level = LogLevel.Information,
        Message = "Redis client created for {Endpoints} (via Sentinel: {ViaSentinel})")]
    private static partial void LogCreated(ILogger logger, string endpoints, bool viaSentinel);

    [LoggerMessage(EventId = 5002, EventName = "RedisConnectFailed", Level = LogLevel.Warning,
        Message = "Creating the Redis client failed; commands fail until the next attempt")]
    private static partial void LogCreateFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 5003, EventName = "RedisConnectionLost", Level = LogLevel.Warning,
        Message = "Redis connection to {Endpoint} lost ({FailureType}); commands fail fast until it is restored")]
    private static partial void LogConnectionFailed(ILogger logger, EndPoint? endpoint, ConnectionFailureType failureType, Exception? exception);

    [LoggerMessage(EventId = 5005, EventName = "RedisWriteNotReplicated", Level = LogLevel.Warning,
        Message = "A ledger write was acknowledged by {Replicas} of {Required} required replica(s); ledger writes fail (UNAVAILABLE) until replicas acknowledge again")]
    private static partial void LogNotReplicated(ILogger logger, long replicas, int required);

    [LoggerMessage(EventId = 5006, EventName = "RedisPrimaryDemoted", Level = LogLevel.Warning,
        Message = "Redis primary {Endpoint} answered READONLY (demoted); asking the sentinels for the primary again")]
    private static partial void LogDemoted(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 5004, EventName = "RedisConnectionRestored", Level = LogLevel.Information,
        Message = "Redis connection to {Endpoint} restored")]
    private static partial void LogConnectionRestored(ILogger logger, EndPoint? endpoint);
}
