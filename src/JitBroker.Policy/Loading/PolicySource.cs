using System.Security.Cryptography;
using System.Text;

namespace JitBroker.Policy.Loading;

/// <summary>One policy file's path and text.</summary>
internal sealed record PolicyFileText(string Path, string Text);

/// <summary>The policy files of a path as read at one moment, with a hash over names and contents.</summary>
internal sealed record PolicySourceContent(string RootPath, bool IsDirectory, IReadOnlyList<PolicyFileText> Files, string ContentHash);

/// <summary>
/// Reads policy text from a file or a directory. A directory contributes every regular file or symlink directly
/// in it (not in subdirectories) whose name ends in <c>.yaml</c> or <c>.yml</c> and does not start with a dot,
/// in ordinal order of file name. Not recursive, and dot-names skipped, because a Kubernetes ConfigMap volume
/// holds each file twice — as <c>name.yaml</c> (a symlink into <c>..data/</c>) and inside the hidden timestamped
/// directory <c>..data</c> points to — and a subdirectory such as <c>tests/</c> holds policy tests, not policy.
/// </summary>
internal static class PolicySource
{
    /// <summary>Largest policy file, in bytes.</summary>
    public const int MaxFileSize = YamlPolicyEngine.MaxPolicySize;

    public const int MaxFiles = 256;

    /// <summary>Largest policy directory, in bytes over all its files.</summary>
    public const long MaxTotalSize = 32L * 1024 * 1024;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>True when <paramref name="name"/> is a file name the directory loader reads.</summary>
    public static bool IsPolicyFileName(string name) =>
        !name.StartsWith('.') && (name.EndsWith(".yaml", StringComparison.Ordinal) || name.EndsWith(".yml", StringComparison.Ordinal));

    /// <summary>Reads a file, or every policy file of a directory. Throws <see cref="PolicyLoadException"/> (line 0) on any I/O problem.</summary>
    public static PolicySourceContent Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!Directory.Exists(path))
        {
            var single = ReadFile(path);
            return new PolicySourceContent(path, false, [single.File], Hash([single]));
        }

        string[] paths;
        try
        {
            paths = [.. Directory.EnumerateFiles(path, "*", SearchOption.TopDirectoryOnly)
                .Where(p => IsPolicyFileName(Path.GetFileName(p)))
                .OrderBy(p => Path.GetFileName(p), StringComparer.Ordinal)];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PolicyLoadException(path, 0, 0, $"cannot read the policy directory: {ex.Message}", ex);
        }

        if (paths.Length == 0)
        {
            // Deny-everything is written as a file with `rules: []`; an empty directory is far more often a
            // volume that did not mount, and must not silently replace a working policy.
            throw new PolicyLoadException(path, 0, 0, "the policy directory holds no policy files (*.yaml, *.yml)");
        }

        if (paths.Length > MaxFiles)
        {
            throw new PolicyLoadException(path, 0, 0, $"the policy directory holds more than {MaxFiles} policy files");
        }

        var files = new List<(PolicyFileText File, byte[] Bytes)>(paths.Length);
        long total = 0;
        foreach (var file in paths)
        {
            var read = ReadFile(file);
            total += read.Bytes.Length;
            if (total > MaxTotalSize)
            {
                throw new PolicyLoadException(path, 0, 0, $"the policy directory is larger than {MaxTotalSize} bytes");
            }

            files.Add(read);
        }

        return new PolicySourceContent(path, true, [.. files.Select(f => f.File)], Hash(files));
    }

    /// <summary>Text given directly (tests, <see cref="YamlPolicyEngine.Parse"/>), hashed like a file of that name.</summary>
    public static PolicySourceContent FromText(string yaml, string sourceName)
    {
        var file = new PolicyFileText(sourceName, yaml);
        return new PolicySourceContent(sourceName, false, [file], Hash([(file, Encoding.UTF8.GetBytes(yaml))]));
    }

    private static (PolicyFileText File, byte[] Bytes) ReadFile(string path)
    {
        try
        {
            // Length of the target, not of a symlink: FileInfo follows links for Length on Unix.
            if (new FileInfo(path).Length > MaxFileSize)
            {
                throw new PolicyLoadException(path, 0, 0, $"the policy file is larger than {MaxFileSize} bytes");
            }

            var bytes = File.ReadAllBytes(path);
            if (bytes.Length > MaxFileSize)
            {
                throw new PolicyLoadException(path, 0, 0, $"the policy file is larger than {MaxFileSize} bytes");
            }

            // A UTF-8 byte order mark is allowed (editors on Windows write one) and is not part of the text.
            var bom = bytes.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0;
            return (new PolicyFileText(path, StrictUtf8.GetString(bytes, bom, bytes.Length - bom)), bytes);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PolicyLoadException(path, 0, 0, $"cannot read the policy file: {ex.Message}", ex);
        }
        catch (DecoderFallbackException ex)
        {
            throw new PolicyLoadException(path, 0, 0, "the policy file is not valid UTF-8", ex);
        }
    }

    // Names and contents, each length-prefixed, so that moving text between files changes the hash.
    private static string Hash(IEnumerable<(PolicyFileText File, byte[] Bytes)> files)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[8];
        foreach (var (file, bytes) in files)
        {
            var name = Encoding.UTF8.GetBytes(Path.GetFileName(file.Path));
            BitConverter.TryWriteBytes(length, (long)name.Length);
            sha.AppendData(length);
            sha.AppendData(name);
            BitConverter.TryWriteBytes(length, (long)bytes.Length);
            sha.AppendData(length);
            sha.AppendData(bytes);
        }

        return "sha256:" + Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
