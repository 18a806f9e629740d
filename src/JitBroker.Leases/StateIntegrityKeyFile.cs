using System.Security.Cryptography;
using System.Text;
using JitBroker.Core;

namespace JitBroker.Leases;

/// <summary>
/// Loads the state integrity key (<see cref="StateIntegrityOptions"/>) into a <see cref="StateMac"/>, or generates one into
/// the data directory when none is configured (embedded profile). Files readable by group or other are refused, as
/// signing keys are: whoever reads the key can forge approvals and lift blocks. The key is never logged; callers log
/// <see cref="StateMac.KeyId"/>, its fingerprint.
/// </summary>
public static class StateIntegrityKeyFile
{
    private const UnixFileMode ForbiddenForKeys =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <param name="options">The configured key files.</param>
    /// <param name="dataDirectory">Where a key is generated when <see cref="StateIntegrityOptions.KeyPath"/> is not set.</param>
    /// <param name="generated">True when the key was created just now.</param>
    /// <exception cref="BrokerException"><see cref="Reasons.Store.IntegrityKeyInvalid"/>.</exception>
    public static StateMac Load(StateIntegrityOptions options, string dataDirectory, out bool generated)
    {
        ArgumentNullException.ThrowIfNull(options);
        generated = false;
        var path = options.KeyPath;
        if (string.IsNullOrEmpty(path))
        {
            path = Path.Combine(dataDirectory, StateIntegrityOptions.GeneratedKeyFileName);
            generated = TryGenerate(path);
        }

        return new StateMac(Read(path), [.. options.PreviousKeyPaths.Select(Read)]);
    }

    private static bool TryGenerate(string path)
    {
        if (File.Exists(path))
        {
            return false;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temp = path + "." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)) + ".tmp";
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var writer = new StreamWriter(temp, Encoding.ASCII, options))
            {
                writer.Write(Convert.ToBase64String(RandomNumberGenerator.GetBytes(StateMac.MinKeyBytes)));
            }

            // Moved into place without replacing: two processes starting at once on one directory agree on one key.
            File.Move(temp, path, overwrite: false);
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(temp);
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Invalid($"Could not write a new state integrity key to '{path}': {e.GetType().Name}.", e);
        }
    }

    private static byte[] Read(string path)
    {
        try
        {
            if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & ForbiddenForKeys) != 0)
            {
                throw Invalid($"The state integrity key '{path}' is accessible to group or other; restrict it to its owner (chmod 600).");
            }

            var key = Convert.FromBase64String(File.ReadAllText(path).Trim());
            return key.Length >= StateMac.MinKeyBytes
                ? key
                : throw Invalid($"The state integrity key '{path}' holds {key.Length} bytes; at least {StateMac.MinKeyBytes} random bytes are needed.");
        }
        catch (FormatException e)
        {
            throw Invalid($"The state integrity key '{path}' is not base64.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Invalid($"The state integrity key '{path}' cannot be read: {e.GetType().Name}.", e);
        }
    }

    private static BrokerException Invalid(string message, Exception? inner = null) =>
        new(BrokerFailure.FailedPrecondition, Reasons.Store.IntegrityKeyInvalid, message, inner);
}
