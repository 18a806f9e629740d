using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace JitBroker.Redis;

/// <summary>
/// The client the stores share: one multiplexed, pipelined connection to the master, opened lazily, replaced
/// when it breaks. Thread-safe; register one per process.
/// </summary>
/// <remarks>
/// <para>
/// Reconnecting: a broken connection is replaced by the next command. When connecting fails, further attempts
/// wait out a capped, jittered exponential backoff; commands arriving meanwhile fail at once with a
/// <see cref="RedisConnectionException"/> instead of queueing, so a Redis outage surfaces as a prompt error
/// (UNAVAILABLE to agents), never as a hang.
/// </para>
/// <para>
/// With Sentinel, every new connection asks the sentinels for the master and verifies it with <c>ROLE</c>;
/// a <c>READONLY</c> reply (the master was demoted) drops the connection so the next command rediscovers.
/// Commands are never retried automatically: after a connection failure the caller cannot know whether a
/// write ran, and only the caller knows whether repeating it is safe.
/// </para>
/// </remarks>
public sealed partial class RedisConnection : IRedisConnection, IAsyncDisposable
{
    private readonly RedisOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _disposed = new();
    private RedisPhysicalConnection? _current;
    private Task<RedisPhysicalConnection>? _connecting;
    private int _failures;
    private long _nextAttemptAt;
    private string? _lastError;

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
    }

    /// <summary>The server the current connection goes to, or null while disconnected.</summary>
    public RedisEndpoint? CurrentEndpoint => _current is { IsFaulted: false } current ? current.Endpoint : null;

    /// <summary>Connects now (for a start-up check) instead of on the first command. Throws when it cannot.</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken = default) =>
        await GetConnectionAsync(cancellationToken).ConfigureAwait(false);

    public async Task<RedisValue> ExecuteAsync(string command, IReadOnlyList<RedisArg> args, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        ArgumentNullException.ThrowIfNull(args);
        var connection = await GetConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.SendAsync(command, args, cancellationToken).ConfigureAwait(false);
    }

    public async Task<RedisValue> EvalAsync(LuaScript script, IReadOnlyList<RedisArg> keys, IReadOnlyList<RedisArg> args, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(script);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(args);
        var argv = new RedisArg[keys.Count + args.Count + 2];
        argv[0] = script.Sha1Bytes;
        argv[1] = keys.Count;
        for (var i = 0; i < keys.Count; i++)
        {
            argv[i + 2] = keys[i];
        }

        for (var i = 0; i < args.Count; i++)
        {
            argv[keys.Count + i + 2] = args[i];
        }

        try
        {
            return await ExecuteAsync("EVALSHA", argv, cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.ErrorCode == "NOSCRIPT")
        {
            // The server lost its script cache (restart, failover, SCRIPT FLUSH). EVAL runs it and caches it again.
            var withSource = (RedisArg[])argv.Clone();
            withSource[0] = script.SourceBytes;
            return await ExecuteAsync("EVAL", withSource, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<bool> PingAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var reply = await ExecuteAsync("PING", [], cancellationToken).ConfigureAwait(false);
            return reply.AsString() == "PONG";
        }
        catch (RedisException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        RedisPhysicalConnection? current;
        lock (_gate)
        {
            if (_disposed.IsCancellationRequested)
            {
                return;
            }

            _disposed.Cancel();
            current = _current;
            _current = null;
        }

        if (current is not null)
        {
            await current.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async ValueTask<RedisPhysicalConnection> GetConnectionAsync(CancellationToken cancellationToken)
    {
        var current = Volatile.Read(ref _current);
        if (current is { IsFaulted: false })
        {
            return current;
        }

        Task<RedisPhysicalConnection> connecting;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
            if (_current is { IsFaulted: false } fresh)
            {
                return fresh;
            }

            if (_connecting is null)
            {
                var wait = _failures == 0 ? TimeSpan.Zero : _time.GetElapsedTime(_time.GetTimestamp(), _nextAttemptAt);
                if (wait > TimeSpan.Zero)
                {
                    throw new RedisConnectionException(
                        $"Redis is unreachable ({_lastError}); the next connection attempt is in {wait.TotalMilliseconds:0} ms.");
                }

                // Not tied to this caller's token: every caller waiting here shares the attempt.
                _connecting = Task.Run(ConnectOnceAsync);
            }

            connecting = _connecting;
        }

        return await connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<RedisPhysicalConnection> ConnectOnceAsync()
    {
        RedisPhysicalConnection? connection = null;
        try
        {
            var endpoint = _options.UsesSentinel
                ? await SentinelResolver.ResolveMasterAsync(_options, _time, _disposed.Token).ConfigureAwait(false)
                : RedisEndpoint.Parse(_options.Endpoint!);
            connection = await RedisConnector.OpenAsync(
                endpoint, _options, _options.User, _options.ResolvePassword(), _options.Database, _time, _disposed.Token).ConfigureAwait(false);
            if (_options.UsesSentinel)
            {
                await SentinelResolver.EnsureMasterAsync(connection, _options.ConnectTimeout, _disposed.Token).ConfigureAwait(false);
            }

            RedisPhysicalConnection? replaced;
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
                replaced = _current;
                _current = connection;
                _failures = 0;
                _connecting = null;
            }

            if (replaced is not null)
            {
                await replaced.DisposeAsync().ConfigureAwait(false);
            }

            _ = connection.Faulted.ContinueWith(
                static (faulted, state) => ((RedisConnection)state!).OnFaulted(faulted.Result), this,
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            LogConnected(_log, endpoint.ToString(), _options.UsesSentinel);
            return connection;
        }
        catch (Exception ex)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            var error = ex as RedisConnectionException ?? new RedisConnectionException("Connecting to Redis failed: " + ex.Message, ex);
            TimeSpan delay;
            lock (_gate)
            {
                _failures++;
                delay = BackoffDelay(_failures);
                _nextAttemptAt = _time.GetTimestamp() + (long)(delay.TotalSeconds * _time.TimestampFrequency);
                _lastError = error.Message;
                _connecting = null;
            }

            LogConnectFailed(_log, _failures, (long)delay.TotalMilliseconds, error);
            throw error;
        }
    }

    private void OnFaulted(Exception reason)
    {
        if (!_disposed.IsCancellationRequested)
        {
            LogConnectionLost(_log, reason);
        }
    }

    /// <summary>base × 2^(failures−1), capped, then scaled by a random 50–100 % so replicas do not reconnect in lockstep.</summary>
    private TimeSpan BackoffDelay(int failures)
    {
        var exponent = Math.Min(failures - 1, 30);
        var capped = Math.Min(_options.ReconnectBaseDelay.Ticks * Math.Pow(2, exponent), _options.ReconnectMaxDelay.Ticks);
        return TimeSpan.FromTicks((long)(capped * (0.5 + (Random.Shared.NextDouble() * 0.5))));
    }

    [LoggerMessage(EventId = 5001, EventName = "RedisConnected", Level = LogLevel.Information,
        Message = "Connected to Redis at {Endpoint} (via Sentinel: {ViaSentinel})")]
    private static partial void LogConnected(ILogger logger, string endpoint, bool viaSentinel);

    [LoggerMessage(EventId = 5002, EventName = "RedisConnectFailed", Level = LogLevel.Warning,
        Message = "Connecting to Redis failed ({Failures} in a row); next attempt allowed in {DelayMs} ms")]
    private static partial void LogConnectFailed(ILogger logger, int failures, long delayMs, Exception exception);

    [LoggerMessage(EventId = 5003, EventName = "RedisConnectionLost", Level = LogLevel.Warning,
        Message = "Redis connection lost; pending commands failed, the next command reconnects")]
    private static partial void LogConnectionLost(ILogger logger, Exception exception);
}
