using System.Security.Cryptography.X509Certificates;

namespace JitBroker.Server;

/// <summary>
/// The mTLS listener's own certificate, re-read when its files change (checked at most every
/// <see cref="CheckInterval"/>), so a rotating certificate (cert-manager, SPIFFE helper) needs no restart.
/// A replacement that fails to load keeps the current certificate.
/// </summary>
internal sealed class ReloadingCertificate(string certificatePath, string keyPath, TimeProvider time)
{
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(30);

    private readonly Lock _gate = new();
    private X509Certificate2 _current = Load(certificatePath, keyPath);
    private (DateTime Cert, DateTime Key) _stamp = Stamp(certificatePath, keyPath);
    private DateTimeOffset _nextCheck = time.GetUtcNow() + CheckInterval;

    public X509Certificate2 Current
    {
        get
        {
            lock (_gate)
            {
                var now = time.GetUtcNow();
                if (now < _nextCheck)
                {
                    return _current;
                }

                _nextCheck = now + CheckInterval;
                var stamp = Stamp(certificatePath, keyPath);
                if (stamp != _stamp)
                {
                    try
                    {
                        _current = Load(certificatePath, keyPath);
                        _stamp = stamp;
                    }
                    catch (Exception ex) when (ex is IOException or System.Security.Cryptography.CryptographicException or ArgumentException)
                    {
                        // Half-written during rotation, most likely: keep serving the old one and look again later.
                    }
                }

                return _current;
            }
        }
    }

    private static X509Certificate2 Load(string cert, string key) => X509Certificate2.CreateFromPemFile(cert, key);

    private static (DateTime, DateTime) Stamp(string cert, string key) => (File.GetLastWriteTimeUtc(cert), File.GetLastWriteTimeUtc(key));
}
