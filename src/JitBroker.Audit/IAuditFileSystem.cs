namespace JitBroker.Audit;

/// <summary>The file operations of <see cref="AuditFileSink"/>, a seam so tests can watch fsyncs and inject write failures.</summary>
public interface IAuditFileSystem
{
    bool Exists(string path);

    /// <summary>Opens <paramref name="path"/> for appending only (<see cref="FileMode.Append"/>), creating it with mode 0600.</summary>
    Stream OpenAppend(string path);

    /// <summary>Opens <paramref name="path"/> for reading while a writer may have it open.</summary>
    Stream OpenRead(string path);

    /// <summary>Takes an exclusive lock that keeps a second writer off <paramref name="path"/> until disposed.</summary>
    IDisposable LockExclusive(string path);

    /// <summary>fsync: returns once everything written to <paramref name="stream"/> is on stable storage.</summary>
    void FlushToDisk(Stream stream);

    /// <summary>Bytes this process may still write, and the size, of the volume that holds <paramref name="directory"/>.</summary>
    AuditVolumeSpace VolumeSpace(string directory)
    {
        // On Unix DriveInfo takes any path and asks statvfs about the file system holding it.
        var drive = new DriveInfo(System.IO.Path.GetFullPath(directory));
        return new AuditVolumeSpace(drive.AvailableFreeSpace, drive.TotalSize);
    }
}

/// <summary>Free (available to the broker) and total bytes of a volume.</summary>
public readonly record struct AuditVolumeSpace(long AvailableBytes, long TotalBytes);

/// <summary>The real file system.</summary>
public sealed class PhysicalAuditFileSystem : IAuditFileSystem
{
    public static PhysicalAuditFileSystem Instance { get; } = new();

    public bool Exists(string path) => File.Exists(path);

    public Stream OpenAppend(string path)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.Append,
            Access = FileAccess.Write,
            Share = FileShare.Read,
            // Unbuffered: each batch is one write() of whole lines, so nothing half-written waits in a buffer.
            BufferSize = 0,
        };
        if (!OperatingSystem.IsWindows())
        {
            // Applies only when the file is created; an existing file keeps the mode its operator gave it.
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        return new FileStream(path, options);
    }

    public Stream OpenRead(string path) =>
        new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1 << 16);

    public IDisposable LockExclusive(string path)
    {
        // A separate lock file: FileShare.None takes flock(LOCK_EX) on Unix, and taking it on the log itself
        // would also shut out readers (jitctl audit tail, log shippers).
        var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        return new FileStream(path + ".lock", options);
    }

    public void FlushToDisk(Stream stream) => ((FileStream)stream).Flush(flushToDisk: true);
}
