namespace JitBroker.Server;

/// <summary>Start-up log lines, with stable event ids operators can alert on.</summary>
public sealed partial class BrokerStartup
{
    [LoggerMessage(EventId = 100, EventName = "BrokerStarting", Level = LogLevel.Information,
        Message = "JitBroker starting: profile {Profile}, lease store {LeaseStore}")]
    public static partial void LogStarting(ILogger logger, string profile, string leaseStore);

    [LoggerMessage(EventId = 101, EventName = "InMemoryLeases", Level = LogLevel.Warning,
        Message = "LEASES ARE IN MEMORY: they do not survive a restart, and credentials issued before a restart will not be revoked early by EndTask or tracked by introspection. Use the Redis store in production.")]
    public static partial void LogInMemoryLeases(ILogger logger);

    [LoggerMessage(EventId = 102, EventName = "EmbeddedProfile", Level = LogLevel.Warning,
        Message = "EMBEDDED PROFILE: the development trust domain '{TrustDomain}' is trusted; its private key is in the data directory. Never use this profile in production.")]
    public static partial void LogEmbeddedProfile(ILogger logger, string trustDomain);

    [LoggerMessage(EventId = 103, EventName = "CleartextBehindSidecar", Level = LogLevel.Warning,
        Message = "CLEARTEXT LISTENER {Listener} on {Address}: identity tokens cross it unencrypted. Allowed only because JitBroker:Listen:TlsTerminatedBySidecar says a mesh sidecar terminates TLS in front of it; if nothing does, every bearer token on this port can be read off the network.")]
    public static partial void LogCleartextBehindSidecar(ILogger logger, string listener, string address);

    [LoggerMessage(EventId = 104, EventName = "StateIntegrityKey", Level = LogLevel.Information,
        Message = "State integrity key {KeyId} authenticates approvals, blocks and lease handles in Redis")]
    public static partial void LogStateIntegrityKey(ILogger logger, string keyId);

    [LoggerMessage(EventId = 105, EventName = "BackendCleartextBehindMesh", Level = LogLevel.Warning,
        Message = "CLEARTEXT TO {Backend}: the broker talks to it without TLS. Allowed only because {Section}:CleartextBehindMesh says a service mesh encrypts the hop; if nothing does, credentials, leases and approvals cross the network readable and forgeable.")]
    public static partial void LogBackendCleartextBehindMesh(ILogger logger, string backend, string section);

    [LoggerMessage(EventId = 106, EventName = "TokenKeyRotation", Level = LogLevel.Information,
        Message = "Token signing keys rotate every {Interval}, derived from the root secret with fingerprint {Fingerprint}")]
    public static partial void LogRotationRootSecret(ILogger logger, string fingerprint, TimeSpan interval);
}
