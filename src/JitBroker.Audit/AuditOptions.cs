namespace JitBroker.Audit;

/// <summary>When the file sink forces written records to stable storage (fsync).</summary>
public enum AuditFsyncPolicy
{
    /// <summary>fsync every batch before any append in it returns. An acknowledged event survives power loss.</summary>
    Always,

    /// <summary>fsync every <see cref="AuditOptions.FsyncInterval"/>. A power loss may lose up to that much acknowledged audit.</summary>
    Interval,

    /// <summary>Never fsync; the OS flushes when it likes. Survives a broker crash, not a machine crash.</summary>
    Never,
}

/// <summary>Audit log settings (section <c>JitBroker:Audit</c>). Validated by the host at start-up and again when the audit log is registered.</summary>
public sealed class AuditOptions
{
    /// <summary>Where the host binds these options; every validation message names its key under this path.</summary>
    public const string SectionPath = "JitBroker:Audit";

    /// <summary>The JSON-lines file. Created with mode 0600 when absent; an existing file's chain is continued.</summary>
    public string Path { get; set; } = "";

    public AuditFsyncPolicy FsyncPolicy { get; set; } = AuditFsyncPolicy.Always;

    /// <summary>How often <see cref="AuditFsyncPolicy.Interval"/> syncs.</summary>
    public TimeSpan FsyncInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A signed checkpoint follows at the latest this many events after the previous one.</summary>
    public int CheckpointEveryEvents { get; set; } = 1000;

    /// <summary>A signed checkpoint is written this often while events keep arriving.</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// False (the default): an event that cannot be written makes <c>AppendAsync</c> throw and the broker refuses
    /// to issue. True: the failure is logged and the caller carries on — the audit trail then has holes.
    /// </summary>
    public bool FailOpen { get; set; }

    /// <summary>
    /// This replica's identity in the audit mirror: its chain goes to the Redis stream <c>{prefix}audit:{ReplicaId}</c>.
    /// Null: the host name plus a hash of the audit file's full path — stable across restarts and distinct for two
    /// replicas on one host (each has its own audit file), so two chains never interleave in one stream. In
    /// Kubernetes set it to the pod name.
    /// </summary>
    public string? ReplicaId { get; set; }

    /// <summary>The replica identity in use: <see cref="ReplicaId"/>, or the default described there.</summary>
    public string EffectiveReplicaId(string hostName) => ReplicaId ?? hostName + "-" + Convert.ToHexStringLower(
        System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(System.IO.Path.GetFullPath(Path))))[..12];

    /// <summary>Most events written in one batch (one write, one fsync).</summary>
    public int MaxBatchSize { get; set; } = 512;

    /// <summary>
    /// Readiness fails while the audit volume has fewer free bytes than this (or less than <see cref="MinFreePercent"/>),
    /// so load balancers move agents away before a full disk makes every issuance fail closed.
    /// </summary>
    public long MinFreeBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Readiness fails while less than this percentage of the audit volume is free. 0: only <see cref="MinFreeBytes"/> counts.</summary>
    public double MinFreePercent { get; set; } = 1;

    /// <summary>How long one measurement of the audit volume's free space is reused by readiness probes.</summary>
    public TimeSpan DiskCheckInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Returns one message per invalid setting; empty when the options are usable.</summary>
    public IEnumerable<string> Validate()
    {
        if (ReplicaId is not null && (ReplicaId.Length is 0 or > 128 || !ReplicaId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':')))
        {
            yield return $"{SectionPath}:ReplicaId must be 1-128 characters of letters, digits, '-', '_', '.' or ':'.";
        }

        if (string.IsNullOrWhiteSpace(Path))
        {
            yield return $"{SectionPath}:Path is required (the JSON-lines audit file).";
        }

        if (FsyncPolicy == AuditFsyncPolicy.Interval && (FsyncInterval < TimeSpan.FromMilliseconds(10) || FsyncInterval > TimeSpan.FromMinutes(5)))
        {
            yield return $"{SectionPath}:FsyncInterval must lie between 10ms and 5 minutes.";
        }

        if (!Enum.IsDefined(FsyncPolicy))
        {
            yield return $"{SectionPath}:FsyncPolicy must be Always, Interval or Never.";
        }

        if (CheckpointEveryEvents is < 1 or > 1_000_000)
        {
            yield return $"{SectionPath}:CheckpointEveryEvents must lie between 1 and 1000000.";
        }

        if (CheckpointInterval < TimeSpan.FromSeconds(1) || CheckpointInterval > TimeSpan.FromHours(24))
        {
            yield return $"{SectionPath}:CheckpointInterval must lie between 1 second and 24 hours.";
        }

        if (MinFreeBytes is < 1024 * 1024 or > 1L << 40)
        {
            yield return $"{SectionPath}:MinFreeBytes must lie between 1 MiB (1048576) and 1 TiB.";
        }

        if (!double.IsFinite(MinFreePercent) || MinFreePercent is < 0 or > 50)
        {
            yield return $"{SectionPath}:MinFreePercent must lie between 0 and 50.";
        }

        if (DiskCheckInterval < TimeSpan.FromSeconds(1) || DiskCheckInterval > TimeSpan.FromMinutes(5))
        {
            yield return $"{SectionPath}:DiskCheckInterval must lie between 1 second and 5 minutes.";
        }

        if (MaxBatchSize is < 1 or > 65_536)
        {
            yield return $"{SectionPath}:MaxBatchSize must lie between 1 and 65536.";
        }
    }
}
