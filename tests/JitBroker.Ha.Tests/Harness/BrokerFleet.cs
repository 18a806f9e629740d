using System.Globalization;
using System.Security.Cryptography;
using JitBroker.Attestation;

namespace JitBroker.Ha.Tests.Harness;

/// <summary>
/// What the replicas of one deployment share, in a temp directory: ONE task-JWT signing key (a PEM file every
/// replica loads), ONE state integrity key (approvals, blocks and lease handles in Redis verify on every replica) and
/// ONE development trust domain (copied into each replica's data directory, so every replica
/// trusts the same SVIDs). Each replica gets its own data directory and therefore its own audit file — the file
/// sink refuses a second writer. All replicas use the same <c>iss</c>, so a token from one introspects at another.
/// </summary>
internal sealed class BrokerFleet : IAsyncDisposable
{
    public const string SupportBot = "spiffe://dev.jitbroker.local/agents/support-bot";
    public const string TicketsAudience = "https://tickets.internal.example";

    private readonly List<BrokerProcess> _replicas = [];

    private BrokerFleet(string root, DevTrustDomain dev, string signingKeyPath)
    {
        Root = root;
        Dev = dev;
        SigningKeyPath = signingKeyPath;
    }

    public string Root { get; }

    public DevTrustDomain Dev { get; }

    public string SigningKeyPath { get; }

    public static BrokerFleet Create()
    {
        var root = Directory.CreateTempSubdirectory("jitbroker-ha-").FullName;
        var dev = DevTrustDomain.LoadOrCreate(Path.Combine(root, "dev-trust-domain"), TimeProvider.System);
        var keyPath = Path.Combine(root, "signing-key.pem");
        using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
            using var writer = new StreamWriter(keyPath, System.Text.Encoding.ASCII, options);
            writer.Write(key.ExportPkcs8PrivateKeyPem());
        }

        var stateKey = Path.Combine(root, "state-integrity.key");
        File.WriteAllText(stateKey, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        File.SetUnixFileMode(stateKey, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return new BrokerFleet(root, dev, keyPath);
    }

    /// <summary>The data directory (and audit file) of replica <paramref name="name"/>.</summary>
    public string DataDirectory(string name) => Path.Combine(Root, name);

    public string AuditPath(string name) => Path.Combine(DataDirectory(name), "audit.jsonl");

    /// <summary>
    /// Starts replica <paramref name="name"/> on Redis at <paramref name="redisEndpoint"/> (embedded profile — for
    /// the dev trust domain — with the Redis lease store). <paramref name="extra"/> overrides or adds settings; with
    /// a null endpoint it must say where Redis is (for example <c>Redis:SentinelEndpoints:0</c>).
    /// </summary>
    public BrokerProcess Start(string name, string? redisEndpoint, IReadOnlyDictionary<string, string>? extra = null)
    {
        var data = DataDirectory(name);
        var trust = Path.Combine(data, "dev-trust-domain");
        if (!Directory.Exists(trust))
        {
            Directory.CreateDirectory(trust, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            foreach (var file in new[] { DevTrustDomain.KeyFileName, DevTrustDomain.BundleFileName })
            {
                var target = Path.Combine(trust, file);
                File.Copy(Path.Combine(Root, "dev-trust-domain", file), target);
                File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }

        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["Profile"] = "embedded",
            ["DataDirectory"] = data,
            ["Leases:Store"] = "redis",
            ["SigningKey:PrivateKeyPemPath"] = SigningKeyPath,
            ["StateIntegrity:KeyPath"] = Path.Combine(Root, "state-integrity.key"),
            ["Issuer:Issuer"] = "http://127.0.0.1",
        };
        if (redisEndpoint is not null)
        {
            settings["Redis:Endpoint"] = redisEndpoint;
        }

        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        var replica = BrokerProcess.Start(name, Path.Combine(Root, "logs"), settings);
        _replicas.Add(replica);
        return replica;
    }

    /// <summary>A fresh JWT-SVID per task: in bound replay mode a token is bound to the first task it is used for.</summary>
    public string Svid(string spiffeId = SupportBot) => Dev.MintSvid(spiffeId, "jitbroker", TimeSpan.FromMinutes(5));

    public static string Seconds(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        foreach (var replica in _replicas)
        {
            await replica.DisposeAsync();
        }

        Dev.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is harmless.
        }
    }
}
