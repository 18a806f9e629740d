namespace JitBroker.Vault.Auth;

/// <summary>Reads one-line credential files (tokens, role ids, JWTs) and notices when they change.</summary>
internal sealed class CredentialFile(string path, string what)
{
    private const int MaxLength = 64 * 1024;
    private (DateTime WriteTime, long Length)? _seen;

    public string Path { get; } = path;

    /// <summary>Reads and trims the file; throws a <see cref="VaultErrorKind.LoginFailed"/> error naming the file (never its content).</summary>
    public string Read(string operation)
    {
        try
        {
            var info = new FileInfo(Path);
            if (!info.Exists)
            {
                throw Failed(operation, "does not exist", null);
            }

            if (info.Length > MaxLength)
            {
                throw Failed(operation, "is too large", null);
            }

            var value = File.ReadAllText(Path).Trim();
            _seen = (info.LastWriteTimeUtc, info.Length);
            return value.Length > 0 ? value : throw Failed(operation, "is empty", null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failed(operation, $"cannot be read ({e.GetType().Name})", e);
        }
    }

    /// <summary>True when the file's write time or length differs from what the last <see cref="Read"/> saw.</summary>
    public bool Changed()
    {
        if (_seen is not { } seen)
        {
            return false;
        }

        try
        {
            var info = new FileInfo(Path);
            return !info.Exists || info.LastWriteTimeUtc != seen.WriteTime || info.Length != seen.Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    private VaultException Failed(string operation, string problem, Exception? inner) =>
        new(VaultErrorKind.LoginFailed, operation, null, [], $"The {what} file '{Path}' {problem}.", inner);
}
