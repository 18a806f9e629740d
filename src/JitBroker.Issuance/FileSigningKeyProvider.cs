using System.Security.Cryptography;
using JitBroker.Core;
using Microsoft.Extensions.Logging;

namespace JitBroker.Issuance;

/// <summary>
/// Signing keys from files. With <see cref="SigningKeyOptions.PrivateKeyPemPath"/> set, that key is loaded
/// and nothing is generated; otherwise a P-256 key is generated on first start into
/// <c>&lt;DataDirectory&gt;/signing-key.pem</c> (mode 0600 from the moment the file exists) and reused on
/// every later start, so the <c>kid</c> stays stable across restarts. Keys are read once, at construction.
/// Throws <see cref="BrokerException"/> (<see cref="BrokerFailure.FailedPrecondition"/>, reasons in
/// <see cref="Reasons.Issuance"/>) for invalid options, unreadable files, private key files that group or
/// other may access (Unix), and keys that are not P-256.
/// </summary>
public sealed partial class FileSigningKeyProvider : ISigningKeyProvider, IDisposable
{
    // Group and other get nothing: a signing key anyone else on the host can read is a forgeable broker.
    private const UnixFileMode ForbiddenForPrivateKeys =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = OwnerReadWrite | UnixFileMode.UserExecute;

    private readonly ILogger<FileSigningKeyProvider> _log;
    private readonly List<SigningKey> _keys = [];

    public FileSigningKeyProvider(SigningKeyOptions options, ILogger<FileSigningKeyProvider> log)
    {
        _log = log;
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Issuance.SigningKeyOptionsInvalid, string.Join(" ", problems));
        }

        try
        {
            Current = string.IsNullOrEmpty(options.PrivateKeyPemPath)
                ? LoadOrGenerate(Path.Combine(options.DataDirectory, SigningKeyOptions.GeneratedKeyFileName))
                : LoadPrivateKey(options.PrivateKeyPemPath, generated: false);
            _keys.Add(Current);

            foreach (var path in options.PreviousPublicKeyPemPaths)
            {
                var previous = SigningKey.FromPublicKeyPem(ReadPem(path));
                if (_keys.Any(k => k.KeyId == previous.KeyId))
                {
                    previous.Dispose();
                    continue;
                }

                _keys.Add(previous);
                LogPreviousKeyLoaded(_log, path, previous.KeyId);
            }
        }
        catch
        {
            Dispose();
            throw;
        }

        VerificationKeys = _keys.AsReadOnly();
    }

    public SigningKey Current { get; }

    public IReadOnlyList<SigningKey> VerificationKeys { get; }

    public void Dispose()
    {
        foreach (var key in _keys)
        {
            key.Dispose();
        }
    }

    private SigningKey LoadOrGenerate(string path)
    {
        if (File.Exists(path))
        {
            return LoadPrivateKey(path, generated: true);
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, OwnerOnlyDirectory);
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var pem = key.ExportPkcs8PrivateKeyPem();

        // Written to a private temp file first, then moved into place without replacing: a reader never
        // sees a half-written key, and two replicas starting at once on one directory agree on one key.
        var temp = path + "." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)) + ".tmp";
        try
        {
            WriteOwnerOnly(temp, pem);
            File.Move(temp, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            TryDelete(temp);
            return LoadPrivateKey(path, generated: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Issuance.SigningKeyUnreadable,
                $"Could not write a new signing key to '{path}': {e.GetType().Name}.", e);
        }

        var signingKey = SigningKey.FromPrivateKeyPem(pem);
        LogKeyGenerated(_log, path, signingKey.KeyId);
        return signingKey;
    }

    private SigningKey LoadPrivateKey(string path, bool generated)
    {
        if (!OperatingSystem.IsWindows() && File.Exists(path))
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & ForbiddenForPrivateKeys) != 0)
            {
                throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Issuance.SigningKeyInsecurePermissions,
                    $"The signing key '{path}' is accessible to group or other (mode {Convert.ToString((int)mode, 8)}); " +
                    "restrict it to its owner (chmod 600) and start again.");
            }
        }

        var key = SigningKey.FromPrivateKeyPem(ReadPem(path));
        LogKeyLoaded(_log, path, key.KeyId, generated);
        return key;
    }

    private static void WriteOwnerOnly(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            // The mode is applied by open(2) itself: there is no moment the file exists world-readable.
            options.UnixCreateMode = OwnerReadWrite;
        }

        using var stream = new FileStream(path, options);
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(content);
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
    }

    private static string ReadPem(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Issuance.SigningKeyUnreadable,
                $"Could not read the key file '{path}': {e.GetType().Name}.", e);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a stray temp file holds a key nobody uses, readable only by its owner.
        }
    }

    [LoggerMessage(EventId = 7001, EventName = "SigningKeyGenerated", Level = LogLevel.Warning,
        Message = "Generated a new signing key {KeyId} at {Path}; tokens signed by any earlier key no longer verify")]
    private static partial void LogKeyGenerated(ILogger logger, string path, string keyId);

    [LoggerMessage(EventId = 7002, EventName = "SigningKeyLoaded", Level = LogLevel.Information,
        Message = "Loaded signing key {KeyId} from {Path} (generated: {Generated})")]
    private static partial void LogKeyLoaded(ILogger logger, string path, string keyId, bool generated);

    [LoggerMessage(EventId = 7003, EventName = "PreviousKeyLoaded", Level = LogLevel.Information,
        Message = "Publishing previous verification key {KeyId} from {Path}")]
    private static partial void LogPreviousKeyLoaded(ILogger logger, string path, string keyId);
}
