using System.Security.Cryptography;
using System.Text;
using JitBroker.Core;

namespace JitBroker.Issuance;

/// <summary>
/// The root secret scheduled token-key rotation derives every epoch's key from (<see cref="DerivedSigningKey"/>): the
/// base64 of at least 32 random bytes (<c>openssl rand -base64 32</c>), from a file whose group and other have no access,
/// as for signing keys — whoever reads it can derive every past and future token key. Never logged; log
/// <see cref="DerivedSigningKey.Fingerprint"/>.
/// </summary>
public static class RotationRootSecretFile
{
    /// <summary>Where the embedded profile generates a root secret when none is configured.</summary>
    public const string GeneratedFileName = "token-rotation-root.key";

    private const UnixFileMode ForbiddenForSecrets =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Reads the secret at <paramref name="path"/>.</summary>
    /// <exception cref="BrokerException">Unreadable, not base64, too short, or accessible to group or other.</exception>
    public static byte[] Read(string path)
    {
        try
        {
            if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & ForbiddenForSecrets) != 0)
            {
                throw Invalid(Reasons.Issuance.SigningKeyInsecurePermissions,
                    $"The rotation root secret '{path}' is accessible to group or other; restrict it to its owner (chmod 600).");
            }

            var secret = Convert.FromBase64String(File.ReadAllText(path).Trim());
            return secret.Length >= DerivedSigningKey.MinRootSecretBytes
                ? secret
                : throw Invalid(Reasons.Issuance.SigningKeyUnreadable,
                    $"The rotation root secret '{path}' holds {secret.Length} bytes; at least {DerivedSigningKey.MinRootSecretBytes} random bytes are needed.");
        }
        catch (FormatException e)
        {
            throw Invalid(Reasons.Issuance.SigningKeyUnreadable, $"The rotation root secret '{path}' is not base64.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Invalid(Reasons.Issuance.SigningKeyUnreadable, $"The rotation root secret '{path}' cannot be read: {e.GetType().Name}.", e);
        }
    }

    /// <summary>
    /// Embedded profile: the secret in <paramref name="dataDirectory"/>, generated (0600) on first start, so rotated keys
    /// survive restarts. Two processes starting at once on one directory agree on one secret.
    /// </summary>
    public static byte[] ReadOrGenerate(string dataDirectory, out bool generated)
    {
        var path = Path.Combine(dataDirectory, GeneratedFileName);
        generated = false;
        if (!File.Exists(path))
        {
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
                    writer.Write(Convert.ToBase64String(RandomNumberGenerator.GetBytes(DerivedSigningKey.MinRootSecretBytes)));
                }

                File.Move(temp, path, overwrite: false);
                generated = true;
            }
            catch (IOException) when (File.Exists(path))
            {
                File.Delete(temp);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw Invalid(Reasons.Issuance.SigningKeyUnreadable, $"Could not write a new rotation root secret to '{path}': {e.GetType().Name}.", e);
            }
        }

        return Read(path);
    }

    private static BrokerException Invalid(string reason, string message, Exception? inner = null) =>
        new(BrokerFailure.FailedPrecondition, reason, message, inner);
}
