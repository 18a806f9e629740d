using Moq;

namespace JitBroker.Audit.Tests;

/// <summary>The real file system behind a Moq mock: records every fsync and can make writes fail or tear.</summary>
internal sealed class WatchedFileSystem : Mock<IAuditFileSystem>
{
    private readonly PhysicalAuditFileSystem _real = PhysicalAuditFileSystem.Instance;

    public WatchedFileSystem(string path)
        : base(MockBehavior.Strict)
    {
        Setup(f => f.Exists(It.IsAny<string>())).Returns<string>(_real.Exists);
        Setup(f => f.OpenRead(It.IsAny<string>())).Returns<string>(_real.OpenRead);
        Setup(f => f.LockExclusive(It.IsAny<string>())).Returns<string>(_real.LockExclusive);
        Setup(f => f.OpenAppend(It.IsAny<string>())).Returns<string>(p => new FaultyStream((FileStream)_real.OpenAppend(p), this));
        Setup(f => f.FlushToDisk(It.IsAny<Stream>())).Callback<Stream>(s =>
        {
            _real.FlushToDisk(((FaultyStream)s).Inner);
            SyncedLengths.Add(new FileInfo(path).Length);
            FirstSync.TrySetResult();
        });
    }

    /// <summary>The file's length at each fsync.</summary>
    public List<long> SyncedLengths { get; } = [];

    public TaskCompletionSource FirstSync { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Writes throw without writing (a full disk refusing the write).</summary>
    public bool FailWrites { get; set; }

    /// <summary>Writes store half their bytes, then throw (a crash or I/O error mid-write).</summary>
    public bool TearWrites { get; set; }

    private sealed class FaultyStream(FileStream inner, WatchedFileSystem owner) : Stream
    {
        public FileStream Inner => inner;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => inner.Length;

        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (owner.FailWrites)
            {
                throw new IOException("No space left on device");
            }

            if (owner.TearWrites)
            {
                inner.Write(buffer[..(buffer.Length / 2)]);
                throw new IOException("Input/output error");
            }

            inner.Write(buffer);
        }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
