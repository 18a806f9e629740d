using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using StackExchange.Redis;
using StackExchange.Redis.Configuration;

namespace JitBroker.Redis;

/// <summary>Builds StackExchange.Redis' <see cref="ConfigurationOptions"/> from <see cref="RedisOptions"/>.</summary>
/// <remarks>
/// The choices that matter for the broker:
/// <list type="bullet">
/// <item>RESP2 (<see cref="RedisProtocol.Resp2"/>): the Lua scripts' and commands' reply shapes stay flat arrays
/// (RESP3 would turn HGETALL into a map and change null replies), and the broker uses nothing RESP3 adds
/// (no pub/sub on the data path, no client-side caching). See docs/redis.md.</item>
/// <item>Fail fast: <see cref="BacklogPolicy.FailFast"/> and <c>AbortOnConnectFail = false</c>. A command
/// issued while no connection is up fails at once instead of waiting in an in-process backlog: a credential
/// must never be handed out on a write the ledger may not have taken.</item>
/// <item>Nothing administrative: no tie-breaker key, no configuration broadcast channel, no admin commands, so
/// the least-privilege ACL of docs/redis.md suffices.</item>
/// </list>
/// </remarks>
internal static class RedisConfiguration
{
    public static ConfigurationOptions Build(RedisOptions options)
    {
        var config = new ConfigurationOptions
        {
            Protocol = RedisProtocol.Resp2,
            AbortOnConnectFail = false,
            BacklogPolicy = BacklogPolicy.FailFast,
            ConnectTimeout = Milliseconds(options.ConnectTimeout),
            SyncTimeout = Milliseconds(options.CommandTimeout),
            AsyncTimeout = Milliseconds(options.CommandTimeout),
            ReconnectRetryPolicy = new ExponentialRetry(Milliseconds(options.ReconnectBaseDelay), Milliseconds(options.ReconnectMaxDelay)),
            ConnectRetry = 1,
            DefaultDatabase = options.Database,
            ClientName = options.ClientName,
            AllowAdmin = options.AllowAdminCommands,
            TieBreaker = "",
            ConfigurationChannel = "",
            SetClientLibrary = false,
            User = options.User,
            IncludeDetailInExceptions = true,
            // Commands the library would try on its own and the documented ACL refuses: CONFIG GET (server
            // auto-configuration; it could also read secrets such as masterauth), CLUSTER NODES/SLOTS (topology
            // probing; standalone and Sentinel have none — a cluster needs it) and SCRIPT LOAD (scripts go EVALSHA,
            // then EVAL). Tools and tests with AllowAdminCommands keep the full map.
            CommandMap = options.AllowAdminCommands
                ? CommandMap.Default
                : CommandMap.Create(
                    options.UsesCluster
                        ? new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "CONFIG", "SCRIPT" }
                        : new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "CONFIG", "CLUSTER", "SCRIPT" },
                    available: false),
        };

        if (options.UsesSentinel)
        {
            foreach (var sentinel in options.SentinelEndpoints)
            {
                config.EndPoints.Add(ToEndPoint(RedisEndpoint.Parse(sentinel)));
            }

            config.ServiceName = options.SentinelMasterName;
            // The library falls back to the data user's credentials for sentinels; ours are separate settings. A
            // sentinel password without a user is the sentinel's default user (requirepass).
            config.SentinelUser = options.SentinelUser ?? (options.SentinelPassword is null ? null : "default");
            config.SentinelPassword = options.SentinelPassword;
        }
        else if (options.UsesCluster)
        {
            // Any reachable node will do: the library reads the topology (CLUSTER NODES), connects to every primary
            // and follows MOVED/ASK itself. Writes while a shard is failing over fail fast like any outage.
            foreach (var node in options.ClusterEndpoints)
            {
                config.EndPoints.Add(ToEndPoint(RedisEndpoint.Parse(node)));
            }
        }
        else
        {
            config.EndPoints.Add(ToEndPoint(RedisEndpoint.Parse(options.Endpoint!)));
        }

        if (options.PasswordFile is not null)
        {
            // The library asks its defaults for the password at every handshake when none is set explicitly, so a
            // rotated secret file is picked up by the next (re)connect without restarting the broker.
            config.Defaults = new PasswordFileDefaults(options.PasswordFile, config.Defaults);
        }
        else
        {
            config.Password = options.Password;
        }

        if (options.UseTls)
        {
            config.Ssl = true;
            config.SslClientAuthenticationOptions = host => TlsOptions(options, host);
        }

        return config;
    }

    private static EndPoint ToEndPoint(RedisEndpoint endpoint) =>
        IPAddress.TryParse(endpoint.Host, out var address) ? new IPEndPoint(address, endpoint.Port) : new DnsEndPoint(endpoint.Host, endpoint.Port);

    private static int Milliseconds(TimeSpan span) => (int)Math.Min(int.MaxValue, Math.Ceiling(span.TotalMilliseconds));

    private static SslClientAuthenticationOptions TlsOptions(RedisOptions options, string host)
    {
        var tls = new SslClientAuthenticationOptions
        {
            TargetHost = options.TlsServerName ?? host,
            EnabledSslProtocols = System.Security.Authentication.SslProtocols.None, // the OS default: TLS 1.2/1.3
        };
        if (options.ClientCertificatePath is not null && options.ClientKeyPath is not null)
        {
            #pragma warning disable CA2000 // the client certificate lives as long as the connection configuration that holds it
            tls.ClientCertificates = [X509Certificate2.CreateFromPemFile(options.ClientCertificatePath, options.ClientKeyPath)];
            #pragma warning restore CA2000
        }

        if (options.CaCertificatePath is not null)
        {
            var ca = X509CertificateLoader.LoadCertificateFromFile(options.CaCertificatePath);
            tls.RemoteCertificateValidationCallback = (_, certificate, _, errors) => IsTrusted(certificate, errors, ca);
        }

        return tls;
    }

    /// <summary>Chains to the configured CA only (not the system store), and the name must match.</summary>
    private static bool IsTrusted(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2 ca)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }

    /// <summary>Defaults that read the password from a file each time the library asks (at every handshake).</summary>
    private sealed class PasswordFileDefaults(string path, DefaultOptionsProvider inner) : DefaultOptionsProvider
    {
        public override string? Password => File.ReadAllText(path).TrimEnd('\r', '\n');

        public override bool IsMatch(EndPoint endpoint) => inner.IsMatch(endpoint);
    }
}
