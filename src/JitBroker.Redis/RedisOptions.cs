using System.Text;

namespace JitBroker.Redis;

/// <summary>
/// Where Redis is and how to talk to it. Either <see cref="Endpoint"/> (standalone) or
/// <see cref="SentinelEndpoints"/> with <see cref="SentinelMasterName"/> (HA). Secrets (<see cref="Password"/>,
/// <see cref="SentinelPassword"/>) never appear in <see cref="ToString"/> or in logs.
/// </summary>
public sealed class RedisOptions
{
    /// <summary>Where the host binds these options; every validation message names its key under this path.</summary>
    public const string SectionPath = "JitBroker:Redis";

    /// <summary>Standalone server, <c>host:port</c>. Leave empty when using Sentinel.</summary>
    public string? Endpoint { get; set; }

    /// <summary>Sentinel servers, <c>host:port</c> each; the master is discovered through them.</summary>
    public IList<string> SentinelEndpoints { get; set; } = [];

    /// <summary>
    /// Redis Cluster: some of its nodes, <c>host:port</c> each (the library discovers the rest and follows
    /// <c>MOVED</c>/<c>ASK</c>). Needs <see cref="Buckets"/> &gt; 1.
    /// </summary>
    public IList<string> ClusterEndpoints { get; set; } = [];

    /// <summary>
    /// Buckets the lease ledger is split into (1..1024). 1 (the default) keeps the single-Redis key layout; more
    /// puts each bucket in its own hash slot (docs/redis.md, "Redis Cluster"): required for Redis Cluster, where
    /// 16 or more spread the expiry schedule over the shards. Fixed for the life of a ledger: changing it hides
    /// the leases stored under the old layout.
    /// </summary>
    public int Buckets { get; set; } = 1;

    /// <summary>The master name the sentinels monitor (<c>sentinel monitor &lt;name&gt; …</c>).</summary>
    public string? SentinelMasterName { get; set; }

    /// <summary>ACL user for the sentinels (Redis 6.2+), if they require one.</summary>
    public string? SentinelUser { get; set; }

    /// <summary>Password for the sentinels (<c>requirepass</c> in sentinel.conf), if they require one.</summary>
    public string? SentinelPassword { get; set; }

    /// <summary>ACL user name; null authenticates as <c>default</c> with <see cref="Password"/> alone.</summary>
    public string? User { get; set; }

    /// <summary>Password (or use <see cref="PasswordFile"/>, for example a mounted Kubernetes Secret).</summary>
    public string? Password { get; set; }

    /// <summary>File holding the password (trailing newline ignored); read at every connect, so a rotated secret is picked up.</summary>
    public string? PasswordFile { get; set; }

    /// <summary>
    /// ACL user the audit mirror connects as (docs/redis.md: <c>jitbroker-audit</c>, append-only on the audit streams).
    /// Null: the mirror shares the broker's connection and user. Set it so that a stolen broker credential cannot
    /// touch the audit streams.
    /// </summary>
    public string? AuditUser { get; set; }

    /// <summary>File holding <see cref="AuditUser"/>'s password; read at every connect.</summary>
    public string? AuditPasswordFile { get; set; }

    public int Database { get; set; }

    public bool UseTls { get; set; }

    /// <summary>
    /// Production profile: a connection without TLS is allowed because a service mesh encrypts the hop. Off by default
    /// (the production profile requires <see cref="UseTls"/>); when on, the broker logs a warning at every start.
    /// </summary>
    public bool CleartextBehindMesh { get; set; }

    /// <summary>PEM CA certificate the server's certificate must chain to; null uses the system trust store.</summary>
    public string? CaCertificatePath { get; set; }

    /// <summary>Name the server certificate must carry; null uses the endpoint's host.</summary>
    public string? TlsServerName { get; set; }

    /// <summary>PEM client certificate for servers with <c>tls-auth-clients yes</c>; needs <see cref="ClientKeyPath"/>.</summary>
    public string? ClientCertificatePath { get; set; }

    public string? ClientKeyPath { get; set; }

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest wait for a reply; a command past it fails with StackExchange.Redis' <c>RedisTimeoutException</c>.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>First delay after a failed connect; grows exponentially per failure up to <see cref="ReconnectMaxDelay"/>.</summary>
    public TimeSpan ReconnectBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Replicas that must acknowledge a ledger write (a new lease, a revocation mark, a revocation schedule) before
    /// it counts as done: the adapter sends <c>WAIT</c> after the script, on the same connection. 0 (the default)
    /// sends no <c>WAIT</c>. With Sentinel set it to 1 (or more with more replicas): Redis replication is
    /// asynchronous, and a lease write the old primary acknowledged just before a failover can vanish — a credential
    /// handed out on it would never be revoked early. Costs one replica round trip per such write; see docs/redis.md.
    /// </summary>
    public int MinReplicasToAck { get; set; }

    /// <summary>
    /// How long a ledger write waits for <see cref="MinReplicasToAck"/> replicas (the <c>WAIT</c> timeout). Fewer
    /// acknowledgements by then fail the write (UNAVAILABLE, cause <c>redis.noreplicas</c>). Must be below
    /// <see cref="CommandTimeout"/>: <c>WAIT</c> holds the shared connection while it waits.
    /// </summary>
    public TimeSpan ReplicaAckTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Prefix of every key the broker writes, so several deployments can share one database.</summary>
    public string KeyPrefix { get; set; } = "jitbroker:";

    /// <summary>
    /// Lets the client send administrative commands (<c>CONFIG</c>, <c>CLIENT</c>, <c>DEBUG</c>, <c>FLUSHDB</c> …), which
    /// StackExchange.Redis refuses by default. For tests and operator tools only: the broker never needs them,
    /// and the documented ACL denies them anyway.
    /// </summary>
    public bool AllowAdminCommands { get; set; }

    /// <summary>Shown by <c>CLIENT LIST</c>, so operators can tell broker connections apart.</summary>
    public string ClientName { get; set; } = "jitbroker";

    internal bool UsesSentinel => SentinelEndpoints.Count > 0;

    internal bool UsesCluster => ClusterEndpoints.Count > 0;

    /// <summary>Every problem with these options; empty when they are usable.</summary>
    public IEnumerable<string> Validate()
    {
        var hasEndpoint = !string.IsNullOrWhiteSpace(Endpoint);
        if ((hasEndpoint ? 1 : 0) + (UsesSentinel ? 1 : 0) + (UsesCluster ? 1 : 0) != 1)
        {
            yield return $"{SectionPath}: set exactly one of Endpoint (standalone), SentinelEndpoints (Sentinel) or ClusterEndpoints (Cluster).";
        }

        foreach (var node in ClusterEndpoints.Where(s => !RedisEndpoint.TryParse(s, out _)))
        {
            yield return $"{SectionPath}:ClusterEndpoints entry '{node}' is not host:port.";
        }

        if (Buckets is < 1 or > 1024)
        {
            yield return $"{SectionPath}:Buckets must be between 1 and 1024.";
        }

        if (UsesCluster && Buckets < 2)
        {
            yield return $"{SectionPath}: Redis Cluster needs Buckets of 2 or more (16 or more recommended): with one bucket the ledger's scripts span hash slots.";
        }

        if (UsesCluster && Database != 0)
        {
            yield return $"{SectionPath}: Redis Cluster has only database 0.";
        }

        if (Buckets > 1 && KeyPrefix?.Contains('{', StringComparison.Ordinal) == true)
        {
            yield return $"{SectionPath}: with Buckets above 1 the KeyPrefix must not contain '{{' (it would override the buckets' hash tags).";
        }

        if (hasEndpoint && !RedisEndpoint.TryParse(Endpoint, out _))
        {
            yield return $"{SectionPath}:Endpoint '{Endpoint}' is not host:port.";
        }

        foreach (var sentinel in SentinelEndpoints.Where(s => !RedisEndpoint.TryParse(s, out _)))
        {
            yield return $"{SectionPath}:SentinelEndpoints entry '{sentinel}' is not host:port.";
        }

        if (UsesSentinel && string.IsNullOrWhiteSpace(SentinelMasterName))
        {
            yield return $"{SectionPath}:SentinelMasterName is required with SentinelEndpoints.";
        }

        if (Password is not null && PasswordFile is not null)
        {
            yield return $"{SectionPath}: set Password or PasswordFile, not both.";
        }

        if (PasswordFile is not null && !File.Exists(PasswordFile))
        {
            yield return $"{SectionPath}:PasswordFile '{PasswordFile}' does not exist.";
        }

        if (User is not null && Password is null && PasswordFile is null)
        {
            yield return $"{SectionPath}:User needs Password or PasswordFile.";
        }

        if ((AuditUser is null) != (AuditPasswordFile is null))
        {
            yield return $"{SectionPath}:AuditUser and AuditPasswordFile go together.";
        }

        if (AuditPasswordFile is not null && !File.Exists(AuditPasswordFile))
        {
            yield return $"{SectionPath}:AuditPasswordFile '{AuditPasswordFile}' does not exist.";
        }

        if (Database is < 0 or > 15_999)
        {
            yield return $"{SectionPath}:Database must be 0 or more.";
        }

        foreach (var (name, path) in new[] { ("CaCertificatePath", CaCertificatePath), ("ClientCertificatePath", ClientCertificatePath), ("ClientKeyPath", ClientKeyPath) })
        {
            if (path is not null && !UseTls)
            {
                yield return $"{SectionPath}: {name} is set but UseTls is false.";
            }

            if (path is not null && !File.Exists(path))
            {
                yield return $"{SectionPath}: {name} '{path}' does not exist.";
            }
        }

        if ((ClientCertificatePath is null) != (ClientKeyPath is null))
        {
            yield return $"{SectionPath}:ClientCertificatePath and ClientKeyPath go together.";
        }

        if (ConnectTimeout <= TimeSpan.Zero || CommandTimeout <= TimeSpan.Zero)
        {
            yield return $"{SectionPath}:ConnectTimeout and CommandTimeout must be positive.";
        }

        if (ReconnectBaseDelay <= TimeSpan.Zero || ReconnectMaxDelay < ReconnectBaseDelay)
        {
            yield return $"{SectionPath}:ReconnectBaseDelay must be positive and not above ReconnectMaxDelay.";
        }

        if (MinReplicasToAck is < 0 or > 16)
        {
            yield return $"{SectionPath}:MinReplicasToAck must be between 0 and 16.";
        }

        if (MinReplicasToAck > 0 && (ReplicaAckTimeout < TimeSpan.FromMilliseconds(1) || ReplicaAckTimeout >= CommandTimeout))
        {
            // WAIT 0 would block forever; a WAIT as long as the command timeout would time out instead of reporting its count.
            yield return $"{SectionPath}:ReplicaAckTimeout must be at least 1 ms and below CommandTimeout.";
        }

        if (string.IsNullOrEmpty(KeyPrefix))
        {
            yield return $"{SectionPath}:KeyPrefix must not be empty (it keeps the broker's keys apart).";
        }
    }

    /// <summary>The same server and transport settings with the audit mirror's own credentials (null when none are set).</summary>
    public RedisOptions? ForAuditMirror()
    {
        if (AuditUser is null)
        {
            return null;
        }

        var audit = (RedisOptions)MemberwiseClone();
        audit.User = AuditUser;
        audit.Password = null;
        audit.PasswordFile = AuditPasswordFile;
        audit.AuditUser = null;
        audit.AuditPasswordFile = null;
        audit.ClientName = ClientName + "-audit";
        return audit;
    }

    public override string ToString()
    {
        var text = new StringBuilder("RedisOptions { ");
        text.Append(UsesSentinel
            ? $"Sentinel = [{string.Join(", ", SentinelEndpoints)}], Master = {SentinelMasterName}"
            : UsesCluster ? $"Cluster = [{string.Join(", ", ClusterEndpoints)}]" : $"Endpoint = {Endpoint}");
        text.Append($", User = {User ?? "default"}, Password = {(Password is null && PasswordFile is null ? "none" : "***")}");
        text.Append($", Database = {Database}, Tls = {UseTls}, KeyPrefix = {KeyPrefix}, Buckets = {Buckets}, MinReplicasToAck = {MinReplicasToAck} }}");
        return text.ToString();
    }
}
