using JitBroker.Redis;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Audit.Tests.Conformance;

/// <summary>The in-memory sink: the store is the sink instance itself.</summary>
[TestFixture]
public sealed class InMemoryAuditSinkConformanceTests : AuditSinkConformanceTests
{
    private InMemoryAuditSink? _store;

    protected override Task<IAuditSink> CreateSinkAsync() => Task.FromResult<IAuditSink>(_store = new InMemoryAuditSink());

    protected override Task<IAuditSink> ReopenAsync(IAuditSink sink) => Task.FromResult(sink);

    protected override Task<IAuditSink> CreateUnreachableSinkAsync() => Task.FromResult<IAuditSink>(new InMemoryAuditSink { FailWrites = true });

    protected override Task<IReadOnlyList<string>> StoredLinesAsync() => Task.FromResult<IReadOnlyList<string>>([.. _store!.Records.Select(r => r.Line)]);
}

/// <summary>The JSON-lines file.</summary>
[TestFixture]
public sealed class AuditFileSinkConformanceTests : AuditSinkConformanceTests
{
    private string _dir = null!;

    private string LogPath => Path.Combine(_dir, "audit.jsonl");

    protected override Task<IAuditSink> CreateSinkAsync()
    {
        _dir = Directory.CreateTempSubdirectory("jitbroker-audit-sink-").FullName;
        return Task.FromResult<IAuditSink>(new AuditFileSink(new AuditOptions { Path = LogPath }));
    }

    protected override async Task<IAuditSink> ReopenAsync(IAuditSink sink)
    {
        await sink.DisposeAsync();
        return new AuditFileSink(new AuditOptions { Path = LogPath });
    }

    // Its directory is a regular file: nothing can be created under it.
    protected override Task<IAuditSink> CreateUnreachableSinkAsync()
    {
        var notADirectory = Path.Combine(_dir, "not-a-directory");
        File.WriteAllText(notADirectory, "");
        return Task.FromResult<IAuditSink>(new AuditFileSink(new AuditOptions { Path = Path.Combine(notADirectory, "audit.jsonl") }));
    }

    protected override Task<IReadOnlyList<string>> StoredLinesAsync() => Task.FromResult<IReadOnlyList<string>>(File.ReadAllLines(LogPath));

    protected override Task DestroyStoreAsync()
    {
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }
}

/// <summary>The file mirrored to a Redis Stream, against a real redis-server on loopback; both copies must hold the same lines.</summary>
[TestFixture]
[NonParallelizable]
public sealed class MirroredAuditSinkConformanceTests : AuditSinkConformanceTests
{
    private RedisServerProcess _server = null!;
    private RedisConnection _redis = null!;
    private string _dir = null!;
    private string _stream = null!;

    private string LogPath => Path.Combine(_dir, "audit.jsonl");

    [OneTimeSetUp]
    public async Task StartRedis()
    {
        _server = await RedisServerProcess.StartServerAsync();
        _redis = new RedisConnection(new RedisOptions { Endpoint = _server.Endpoint });
    }

    [OneTimeTearDown]
    public async Task StopRedis()
    {
        await _redis.DisposeAsync();
        await _server.DisposeAsync();
    }

    protected override Task<IAuditSink> CreateSinkAsync()
    {
        _dir = Directory.CreateTempSubdirectory("jitbroker-audit-mirror-").FullName;
        _stream = "conformance:audit:" + Guid.NewGuid().ToString("N");
        return Task.FromResult<IAuditSink>(Mirrored(_redis));
    }

    protected override async Task<IAuditSink> ReopenAsync(IAuditSink sink)
    {
        await sink.DisposeAsync();
        return Mirrored(_redis);
    }

    // The file is fine; Redis is not there (nothing listens on the port).
    protected override Task<IAuditSink> CreateUnreachableSinkAsync()
    {
        var nowhere = new RedisConnection(new RedisOptions
        {
            Endpoint = $"127.0.0.1:{RedisServerProcess.FreePort()}",
            ConnectTimeout = TimeSpan.FromSeconds(1),
            CommandTimeout = TimeSpan.FromSeconds(1),
        });
        return Task.FromResult<IAuditSink>(new OwningSink(Mirrored(nowhere, "unreachable.jsonl"), nowhere));
    }

    protected override async Task<IReadOnlyList<string>> StoredLinesAsync()
    {
        var fileLines = File.ReadAllLines(LogPath);
        var entries = (await _redis.ExecuteAsync("XRANGE", [_stream, "-", "+"])).AsArray();
        var streamLines = entries.Select(e => e.AsArray()[1].AsArray()[3].AsString()!).ToArray();
        Assert.That(streamLines, Is.EqualTo(fileLines), "the stream holds exactly the file's lines");
        return fileLines;
    }

    protected override Task DestroyStoreAsync()
    {
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    private MirroredAuditSink Mirrored(IRedisConnection redis, string fileName = "audit.jsonl") =>
        new(new AuditFileSink(new AuditOptions { Path = Path.Combine(_dir, fileName) }), redis, _stream);

    /// <summary>Disposes the connection made for one sink together with the sink.</summary>
    private sealed class OwningSink(MirroredAuditSink sink, RedisConnection redis) : IAuditSink
    {
        public ValueTask<AuditRecord?> OpenAsync(CancellationToken cancellationToken = default) => sink.OpenAsync(cancellationToken);

        public ValueTask WriteAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken = default) => sink.WriteAsync(records, cancellationToken);

        public ValueTask SyncAsync(CancellationToken cancellationToken = default) => sink.SyncAsync(cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await sink.DisposeAsync();
            await redis.DisposeAsync();
        }
    }
}
