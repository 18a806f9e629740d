namespace JitBroker.Audit;

/// <summary>What is wrong with the first bad line of an audit log.</summary>
public enum AuditFailureKind
{
    /// <summary>Not JSON, a required member missing or ill-typed, a torn last line, an empty line.</summary>
    MalformedLine,

    /// <summary>The line's members do not hash to its <c>hash</c>: the record was edited.</summary>
    HashMismatch,

    /// <summary>The line's <c>prev_hash</c> is not the previous line's hash: a record was inserted (or forged) before it.</summary>
    PrevHashMismatch,

    /// <summary>Records are missing before this line (its seq skips ahead, and the missing seq appears nowhere later): deletion.</summary>
    SeqGap,

    /// <summary>Seq goes backwards, repeats, or skips ahead to a seq whose predecessor appears later: reordering.</summary>
    SeqOutOfOrder,

    /// <summary>A checkpoint whose head does not match the chain, whose key is unknown, or whose signature does not verify.</summary>
    BadCheckpoint,

    /// <summary>More consecutive events without a checkpoint than <see cref="AuditVerifierOptions.MaxUnsignedEvents"/> allows.</summary>
    UnsignedRun,
}

/// <summary>The first bad line: where it is, which record, and what is wrong (safe to print).</summary>
public sealed record AuditVerificationFailure(AuditFailureKind Kind, long LineNumber, long? Seq, string Message);

/// <summary>
/// The outcome of verifying a log. <see cref="Ok"/> says the chain from seq 1 to <see cref="LastSeq"/> is intact
/// and every checkpoint holds; it does not say nothing was cut off after <see cref="LastSeq"/> (see docs/audit.md).
/// </summary>
public sealed record AuditVerificationResult
{
    public required bool Ok { get; init; }

    /// <summary>Records (events and checkpoints) that passed every check before the first failure.</summary>
    public required long RecordsChecked { get; init; }

    /// <summary>Events (records other than checkpoints) that passed every check.</summary>
    public required long EventsChecked { get; init; }

    /// <summary>Checkpoints whose signature was verified against the keys (0 when no keys were given).</summary>
    public required int CheckpointsVerified { get; init; }

    /// <summary>Checkpoints seen, verified or not.</summary>
    public required int CheckpointsSeen { get; init; }

    /// <summary>Whether checkpoint signatures were checked at all (keys were given).</summary>
    public required bool SignaturesChecked { get; init; }

    /// <summary>The last good record's seq and hash (0 and the genesis hash for an empty log).</summary>
    public required long LastSeq { get; init; }

    public required string LastHash { get; init; }

    /// <summary>The head_seq of the last verified checkpoint: the chain up to here is signed by the broker's key.</summary>
    public long? SignedThroughSeq { get; init; }

    /// <summary>Events after the last verified checkpoint: chained, but not signed (can be cut off undetected).</summary>
    public required long UnsignedTailEvents { get; init; }

    public AuditVerificationFailure? FirstFailure { get; init; }
}

/// <summary>How strictly <see cref="AuditVerifier"/> judges a log.</summary>
public sealed record AuditVerifierOptions
{
    /// <summary>Keys to verify checkpoint signatures with; null checks the chain only (and says so).</summary>
    public AuditCheckpointKeys? Keys { get; init; }

    /// <summary>
    /// When set, more than this many consecutive events without a checkpoint fail verification. Set it to the
    /// largest <see cref="AuditOptions.CheckpointEveryEvents"/> the log was written with: a log rewritten from
    /// scratch by someone without the key then fails, since its checkpoints cannot be forged.
    /// </summary>
    public long? MaxUnsignedEvents { get; init; }

    /// <summary>
    /// True when verifying a file the broker is writing right now (the admin API's verify): an unterminated last
    /// line is a write in progress and is skipped instead of failing as malformed.
    /// </summary>
    public bool AllowIncompleteLastLine { get; init; }
}
