using JitBroker.Core;
using JitBroker.Issuance;
using JitBroker.Testing;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace JitBroker.Audit.Tests;

/// <summary>A temporary directory, a signing key, a fake clock, and helpers to write and read audit logs.</summary>
internal sealed class AuditFixture : IDisposable
{
    public const string Agent = "spiffe://example.org/agent/support-bot";

    public AuditFixture()
    {
        Directory.CreateDirectory(Dir);
    }

    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "jitbroker-audit-" + Guid.NewGuid().ToString("N"));

    public string LogPath => Path.Combine(Dir, "audit.jsonl");

    public StaticSigningKeyProvider Keys { get; } = new(SigningKey.Generate());

    public FakeTimeProvider Clock { get; } = TestClock.Create();

    public string Jwks => JwksDocument.Build(Keys);

    public AuditOptions Options(int checkpointEvery = 1000, AuditFsyncPolicy fsync = AuditFsyncPolicy.Always, bool failOpen = false) => new()
    {
        Path = LogPath,
        FsyncPolicy = fsync,
        FsyncInterval = TimeSpan.FromSeconds(1),
        CheckpointEveryEvents = checkpointEvery,
        CheckpointInterval = TimeSpan.FromSeconds(30),
        FailOpen = failOpen,
    };

    public AuditLog Log(AuditOptions options, IAuditSink? sink = null, ILogger<AuditLog>? logger = null, BrokerMetrics? metrics = null) =>
        new(sink ?? new AuditFileSink(options), Keys, Clock, options, logger ?? NullLogger<AuditLog>.Instance, metrics);

    /// <summary>Writes <paramref name="events"/> events through a file log and closes it (final checkpoint included).</summary>
    public async Task<string[]> WriteLogAsync(int events, int checkpointEvery = 1000)
    {
        await using (var log = Log(Options(checkpointEvery)))
        {
            for (var i = 1; i <= events; i++)
            {
                await log.AppendAsync(Issued(i));
                Clock.Advance(TimeSpan.FromMilliseconds(250));
            }
        }

        return ReadLines();
    }

    public string[] ReadLines() => File.ReadAllLines(LogPath);

    public void WriteLines(IEnumerable<string> lines) => File.WriteAllText(LogPath, string.Concat(lines.Select(l => l + "\n")));

    public AuditCheckpointKeys JwksKeys() => AuditCheckpointKeys.FromJwks(Jwks);

    public async Task<AuditVerificationResult> VerifyAsync(string? path = null, long? maxUnsigned = null)
    {
        using var keys = JwksKeys();
        return await new AuditVerifier(new AuditVerifierOptions { Keys = keys, MaxUnsignedEvents = maxUnsigned }).VerifyFileAsync(path ?? LogPath);
    }

    public static AuditEvent Issued(int i) => new()
    {
        Type = AuditEventTypes.CredentialIssued,
        AgentId = Agent,
        TaskId = $"task-{i}",
        Intent = new TaskIntent("tickets.read", "summarize ticket " + i, ["zendesk"], [$"tickets/{i}"],
            new Dictionary<string, string> { ["ticket"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture) }),
        Decision = "allow",
        RuleIds = ["support-read"],
        LeaseId = LeaseIds.New(),
        CredentialFingerprint = Fingerprints.Of("credential-" + i),
    };

    public void Dispose()
    {
        Keys.Dispose();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is harmless.
        }
    }
}
