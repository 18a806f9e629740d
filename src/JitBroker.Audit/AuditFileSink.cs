using System.Buffers;
using JitBroker.Core;

namespace JitBroker.Audit;

/// <summary>
/// The append-only JSON-lines file: one record per line, UTF-8, <c>\n</c>-terminated, opened with
/// <see cref="FileMode.Append"/> (created 0600). One writer per file, enforced by an exclusive lock on
/// <c>PATH.lock</c>. No rotation: the file grows until an operator archives it (docs/audit.md, Operations).
/// On open it continues the chain from the last line, and refuses to when that line is torn, edited or not
/// chained to the line before it.
/// </summary>
public sealed class AuditFileSink : IAuditSink
{
    private readonly string _path;
    private readonly AuditFsyncPolicy _policy;
    private readonly IAuditFileSystem _files;
    private IDisposable? _lock;
    private Stream? _stream;

    public AuditFileSink(AuditOptions options, IAuditFileSystem? files = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Path);
        _path = Path.GetFullPath(options.Path);
        _policy = options.FsyncPolicy;
        _files = files ?? PhysicalAuditFileSystem.Instance;
    }

    public string FilePath => _path;

    public ValueTask<AuditRecord?> OpenAsync(CancellationToken cancellationToken = default)
    {
        _stream?.Dispose();
        _stream = null;
        try
        {
            _lock ??= _files.LockExclusive(_path);
        }
        catch (IOException e)
        {
            throw Unavailable($"Cannot lock {_path}.lock: another broker may be writing this audit file.", e);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or DirectoryNotFoundException)
        {
            throw Unavailable($"Cannot create {_path}.lock: {e.Message}", e);
        }

        try
        {
            var last = _files.Exists(_path) ? ReadTail() : null;
            _stream = _files.OpenAppend(_path);
            return ValueTask.FromResult(last);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unavailable($"Cannot open the audit file {_path}: {e.Message}", e);
        }
    }

    public ValueTask WriteAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken = default)
    {
        var stream = _stream ?? throw new InvalidOperationException("The audit file is not open.");
        // Indexed loops: foreach over the interface would box an enumerator per loop and batch.
        var length = 0;
        for (var i = 0; i < records.Count; i++)
        {
            length += records[i].LineUtf8.Length + 1;
        }

        var lines = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var at = 0;
            for (var i = 0; i < records.Count; i++)
            {
                var line = records[i].LineUtf8.Span;
                line.CopyTo(lines.AsSpan(at));
                at += line.Length;
                lines[at++] = (byte)'\n';
            }

            // One write of whole lines. Synchronous on purpose: the writer loop is the only caller, and an
            // async write on an unbuffered FileStream would only add a thread-pool hop per batch.
            stream.Write(lines, 0, length);
            if (_policy == AuditFsyncPolicy.Always)
            {
                _files.FlushToDisk(stream);
            }
        }
        catch
        {
            // The file may now end in a partial line: drop the handle so the next write has to re-open, and
            // re-reading the tail decides whether the chain can go on.
            _stream = null;
            stream.Dispose();
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(lines);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask SyncAsync(CancellationToken cancellationToken = default)
    {
        if (_stream is { } stream && _policy != AuditFsyncPolicy.Never)
        {
            _files.FlushToDisk(stream);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _stream?.Dispose();
        _stream = null;
        _lock?.Dispose();
        _lock = null;
        return ValueTask.CompletedTask;
    }

    private AuditRecord? ReadTail()
    {
        using var stream = _files.OpenRead(_path);
        IReadOnlyList<string> lines;
        bool endsWithNewline;
        try
        {
            (lines, endsWithNewline) = AuditFileReader.ReadLastLinesStrict(stream, 2);
        }
        catch (InvalidDataException)
        {
            throw TailInvalid(AuditFileReader.CountLines(stream), "or the line before it is not valid UTF-8: the file was damaged or edited");
        }

        if (lines.Count == 0)
        {
            return null;
        }

        long LineOf(int indexFromEnd) => AuditFileReader.CountLines(stream) - indexFromEnd;
        if (!endsWithNewline)
        {
            throw TailInvalid(LineOf(0), "is incomplete (no final newline): a write was interrupted. That record was never " +
                "acknowledged; after investigating, remove the partial line and restart");
        }

        var last = ParseOrThrow(lines[^1], () => LineOf(0));
        if (last.ComputedHash != last.Hash)
        {
            throw TailInvalid(LineOf(0), $"(seq {last.Seq}) does not match its hash: the record was edited");
        }

        if (lines.Count == 1)
        {
            return last.Seq == 1 && last.PrevHash == AuditRecord.GenesisHash
                ? last
                : throw TailInvalid(1, $"(seq {last.Seq}) is the only record but is not the genesis record (seq 1, prev_hash of zeros)");
        }

        var previous = ParseOrThrow(lines[^2], () => LineOf(1));
        if (previous.Seq != last.Seq - 1 || previous.Hash != last.PrevHash)
        {
            throw TailInvalid(LineOf(0), $"(seq {last.Seq}) does not chain to the line before it (seq {previous.Seq})");
        }

        return last;
    }

    private AuditRecord ParseOrThrow(string line, Func<long> lineNumber)
    {
        try
        {
            return AuditRecord.Parse(line);
        }
        catch (FormatException e)
        {
            throw TailInvalid(lineNumber(), "is not a valid audit record: " + e.Message);
        }
    }

    private BrokerException TailInvalid(long line, string problem) =>
        new(BrokerFailure.FailedPrecondition, Reasons.Audit.TailInvalid,
            $"The audit file {_path} cannot be continued: line {line} {problem}. Run 'jitctl audit verify {_path}' for the full picture.");

    private static BrokerException Unavailable(string message, Exception inner) =>
        new(BrokerFailure.Unavailable, Reasons.Audit.Unavailable, message, inner);
}
