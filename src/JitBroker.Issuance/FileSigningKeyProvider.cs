using System.Security.Cryptography;
using JitBroker.Core;
using Microsoft.Extensions.Logging;

namespace JitBroker.Issuance;

/// <summary>
/// Signing keys from files, for the configured <see cref="SigningKeyOptions.Algorithm"/>. With
/// <see cref="SigningKeyOptions.PrivateKeyPemPath"/> set, that key is loaded and nothing is generated; otherwise a key
/// (P-256 for ES256, RSA 3072 bits for RS256/PS256) is generated on first start into <c>&lt;DataDirectory&gt;/signing-key.pem</c>
/// (mode 0600 from the moment the file exists) and reused on every later start, so the <c>kid</c> stays stable across
/// restarts. Keys are read once, at construction. Throws <see cref="BrokerException"/> (<see cref="BrokerFailure.FailedPrecondition"/>,
/// reasons in <see cref="Reasons.Issuance"/>) for invalid options, unreadable files, private key files that group or
/// other may access (Unix), and a key whose type does not fit the algorithm — configured or generated earlier: a broker
/// switched to RS256 never quietly keeps signing with its old EC key, nor replaces it.
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
    private readonly string _algorithm;

    public FileSigningKeyProvider(SigningKeyOptions options, ILogger<FileSigningKeyProvider> log)
    {
        _log = log;
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Issuance.SigningKeyOptionsInvalid, string.Join(" ", problems));
        }

        _algorithm = options.Algorithm;
        try
        {
            Current = string.IsNullOrEmpty(options.PrivateKeyPemPath)
                ? LoadOrGenerate(Path.Combine(options.DataDirectory, SigningKeyOptions.GeneratedKeyFileName))
                : LoadPrivateKey(options.PrivateKeyPemPath, generated: false);
            _keys.Add(Current);

            foreach (var path in options.PreviousPublicKeyPemPaths)
            {
                var previous = Loaded(path, () => SigningKey.FromPreviousPublicKeyPem(ReadPem(path), _algorithm));
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

        var pem = NewPrivateKeyPem(_algorithm);

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

        var signingKey = SigningKey.FromPrivateKeyPem(pem, _algorithm);
        LogKeyGenerated(_log, path, signingKey.KeyId, _algorithm);
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

        var key = Loaded(path, () => SigningKey.FromPrivateKeyPem(ReadPem(path), _algorithm), generated);
        LogKeyLoaded(_log, path, key.KeyId, key.Algorithm, generated);
        return key;
    }

    /// <summary>
    /// Runs <paramref name="load"/>, naming the file and the configured algorithm when the key does not fit it, so the
    /// operator learns which file to replace or which setting to change.
    /// </summary>
    private SigningKey Loaded(string path, Func<SigningKey> load, bool generated = false)
    {
        try
        {
            return load();
        }
        catch (BrokerException e) when (e.Reason == Reasons.Issuance.SigningKeyUnsupported)
        {
            var remedy = generated
                ? "It was generated for another algorithm: set the algorithm back, or move the file away to have a new key generated " +
                  "(tokens signed by the old key then stop verifying; publish its public key through PreviousPublicKeyPemPaths meanwhile)."
                : "Configure a key of the type the algorithm needs, or choose the algorithm that fits the key.";
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Issuance.SigningKeyUnsupported,
                $"The key in '{path}' does not fit the signing algorithm {_algorithm}: {e.Message} {remedy}", e);
        }
    }

    /// <summary>A new private key for <paramref name="algorithm"/> as PKCS#8 PEM: P-256, or RSA of the generated size.</summary>
    private static string NewPrivateKeyPem(string algorithm)
    {
        if (SigningAlgorithms.IsRsa(algorithm))
        {
            using var rsa = RSA.Create(SigningAlgorithms.GeneratedRsaKeyBits);
            return rsa.ExportPkcs8PrivateKeyPem();
        }

        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return ec.ExportPkcs8PrivateKeyPem();
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
        Message = "Generated a new {Algorithm} signing key {KeyId} at {Path}; tokens signed by any earlier key no longer verify")]
    private static partial void LogKeyGenerated(ILogger logger, string path, string keyId, string algorithm);

    [LoggerMessage(EventId = 7002, EventName = "SigningKeyLoaded", Level = LogLevel.Information,
        Message = "Loaded {Algorithm} signing key {KeyId} from {Path} (generated: {Generated})")]
    private static partial void LogKeyLoaded(ILogger logger, string path, string keyId, string algorithm, bool generated);

    [LoggerMessage(EventId = 7003, EventName = "PreviousKeyLoaded", Level = LogLevel.Information,
        Message = "Publishing previous verification key {KeyId} from {Path}")]
    private static partial void LogPreviousKeyLoaded(ILogger logger, string path, string keyId);
}
