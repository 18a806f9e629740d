using System.Text;

namespace JitBroker.Audit;

/// <summary>
/// Verifies a JSON-lines audit log from its first line: every line well-formed, every hash recomputed, seq
/// contiguous from 1, every <c>prev_hash</c> the previous line's hash (genesis: 64 zeros), every checkpoint
/// naming the record before it and — with keys — signed by a key of the JWKS. Stops at the first bad line and
/// names it (line number, seq, what is wrong). Stateless and thread-safe.
/// </summary>
public sealed class AuditVerifier(AuditVerifierOptions? options = null)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly AuditVerifierOptions _options = options ?? new AuditVerifierOptions();

    /// <summary>Verifies the file at <paramref name="path"/>; I/O errors (missing file, no permission) propagate.</summary>
    public async Task<AuditVerificationResult> VerifyFileAsync(string path, CancellationToken cancellationToken = default)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, useAsync: true);
        return await VerifyAsync(stream, cancellationToken);
    }

    /// <summary>Verifies a log read from <paramref name="stream"/> (UTF-8, one record per <c>\n</c>-terminated line).</summary>
    public async Task<AuditVerificationResult> VerifyAsync(Stream stream, CancellationToken cancellationToken = default)
    {
        var state = new State();
        await using var lines = ReadLines(stream, cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (await lines.MoveNextAsync())
        {
            if (!lines.Current.Terminated && _options.AllowIncompleteLastLine)
            {
                break;
            }

            state.Line++;
            var failure = Check(state, lines.Current) ??
                (state.PendingGap is { } gap ? await ClassifyGapAsync(state, gap, lines) : null);
            if (failure is not null)
            {
                return state.Result(failure, _options.Keys is not null);
            }
        }

        return state.Result(null, _options.Keys is not null);
    }

    private AuditVerificationFailure? Check(State state, (byte[] Bytes, bool Terminated) line)
    {
        AuditVerificationFailure Fail(AuditFailureKind kind, long? seq, string message) => new(kind, state.Line, seq, message);
        if (!line.Terminated)
        {
            return Fail(AuditFailureKind.MalformedLine, null, "the last line is incomplete (no final newline): a write was interrupted or the file was cut");
        }

        AuditRecord record;
        try
        {
            record = ParseLine(line.Bytes);
        }
        catch (FormatException e)
        {
            return Fail(AuditFailureKind.MalformedLine, null, line.Bytes.Length == 0 ? "empty line" : e.Message);
        }

        var expected = state.LastSeq + 1;
        if (record.ComputedHash != record.Hash)
        {
            return Fail(AuditFailureKind.HashMismatch, record.Seq, "the record was edited: its members do not hash to its stored hash");
        }

        if (record.Seq > expected)
        {
            state.PendingGap = record;
            return null;
        }

        if (record.PrevHash != state.LastHash)
        {
            return Fail(AuditFailureKind.PrevHashMismatch, record.Seq,
                $"prev_hash is not the hash of the record before it (line {state.Line - 1}, seq {state.LastSeq}): a record was inserted or forged before this one");
        }

        if (record.Seq < expected)
        {
            return Fail(AuditFailureKind.SeqOutOfOrder, record.Seq, $"seq {record.Seq} where seq {expected} was expected: seq repeats or goes backwards");
        }

        if (record.IsCheckpoint)
        {
            if (AuditCheckpoint.Check(record, _options.Keys) is { } problem)
            {
                return Fail(AuditFailureKind.BadCheckpoint, record.Seq, "checkpoint rejected: " + problem);
            }

            state.CheckpointsSeen++;
            state.UnsignedRun = 0;
            if (_options.Keys is not null)
            {
                state.CheckpointsVerified++;
                state.SignedThroughSeq = record.Seq - 1;
            }
        }
        else
        {
            state.Events++;
            if (++state.UnsignedRun > _options.MaxUnsignedEvents)
            {
                return Fail(AuditFailureKind.UnsignedRun, record.Seq,
                    $"more than {_options.MaxUnsignedEvents} events without a checkpoint: the log may have been rewritten without the key");
            }
        }

        state.Records++;
        state.LastSeq = record.Seq;
        state.LastHash = record.Hash;
        return null;
    }

    // A seq that skips ahead is a deletion unless the skipped seq turns up later, which makes it a reordering.
    private static async Task<AuditVerificationFailure> ClassifyGapAsync(State state, AuditRecord found,
        IAsyncEnumerator<(byte[] Bytes, bool Terminated)> rest)
    {
        var line = state.Line;
        var missing = state.LastSeq + 1;
        var later = line;
        while (await rest.MoveNextAsync())
        {
            later++;
            long? seq;
            try
            {
                seq = ParseLine(rest.Current.Bytes).Seq;
            }
            catch (FormatException)
            {
                seq = null;
            }

            if (seq == missing)
            {
                return new AuditVerificationFailure(AuditFailureKind.SeqOutOfOrder, line, found.Seq,
                    $"seq {found.Seq} where seq {missing} was expected; seq {missing} appears later, at line {later}: records were reordered");
            }
        }

        var count = found.Seq - missing;
        return new AuditVerificationFailure(AuditFailureKind.SeqGap, line, found.Seq, state.LastSeq == 0
            ? $"the log starts at seq {found.Seq}: {count} record(s) before it are missing (deleted)"
            : $"seq {found.Seq} follows seq {state.LastSeq}: {count} record(s) are missing (deleted)");
    }

    // Splits on the byte '\n' and decodes each line on its own, so invalid UTF-8 is blamed on the right line.
    private static async IAsyncEnumerable<(byte[] Bytes, bool Terminated)> ReadLines(Stream stream,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 16];
        var current = new MemoryStream();
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            var start = 0;
            int newline;
            while ((newline = Array.IndexOf(buffer, (byte)'\n', start, read - start)) >= 0)
            {
                current.Write(buffer, start, newline - start);
                yield return (current.ToArray(), true);
                current.SetLength(0);
                start = newline + 1;
            }

            current.Write(buffer, start, read - start);
        }

        if (current.Length > 0)
        {
            yield return (current.ToArray(), false);
        }
    }

    private static AuditRecord ParseLine(byte[] bytes)
    {
        try
        {
            return AuditRecord.Parse(StrictUtf8.GetString(bytes));
        }
        catch (DecoderFallbackException)
        {
            throw new FormatException("The line is not valid UTF-8.");
        }
    }

    private sealed class State
    {
        public long Line { get; set; }

        public long Records { get; set; }

        public long Events { get; set; }

        public long LastSeq { get; set; }

        public string LastHash { get; set; } = AuditRecord.GenesisHash;

        public int CheckpointsSeen { get; set; }

        public int CheckpointsVerified { get; set; }

        public long? SignedThroughSeq { get; set; }

        public long UnsignedRun { get; set; }

        public AuditRecord? PendingGap { get; set; }

        public AuditVerificationResult Result(AuditVerificationFailure? failure, bool signaturesChecked) => new()
        {
            Ok = failure is null,
            RecordsChecked = Records,
            EventsChecked = Events,
            CheckpointsSeen = CheckpointsSeen,
            CheckpointsVerified = CheckpointsVerified,
            SignaturesChecked = signaturesChecked,
            LastSeq = LastSeq,
            LastHash = LastHash,
            SignedThroughSeq = SignedThroughSeq,
            UnsignedTailEvents = UnsignedRun,
            FirstFailure = failure,
        };
    }
}
