using System.Buffers;
using System.Text.Json;
using JitBroker.Core;
using JitBroker.Vault.Auth;
using Microsoft.Extensions.Logging;

namespace JitBroker.Vault.Issuers;

/// <summary>
/// Kind <c>vault-secret</c>: reads a dynamic-secret path (for example <c>database/creds/readonly</c>,
/// <c>aws/creds/deploy</c>), keeps Vault's <c>lease_id</c> as the lease's backend handle, revokes through
/// <c>sys/leases/revoke</c> with <c>sync: true</c>, renews through <c>sys/leases/renew</c> (api-docs/system/leases.mdx).
/// </summary>
/// <remarks>
/// The agent receives the secret's <c>data</c> object as compact JSON (for example
/// <c>{"password":"…","username":"v-task-…"}</c>) in <see cref="IssuedCredential.Secret"/>. A reply without a
/// <c>lease_id</c> (a static KV secret) is refused: the broker hands out only what it can revoke. Vault's
/// <c>lease_duration</c> shorter than the grant is reported as the expiry; longer, the broker still revokes at its
/// own TTL (the role's TTL cannot be asked for per read).
/// </remarks>
public sealed partial class VaultSecretIssuer : ICredentialIssuer
{
    /// <summary>The issuer kind this class registers as.</summary>
    public const string KindName = "vault-secret";

    private const string LeasesRevoke = "sys/leases/revoke";
    private const string LeasesRenew = "sys/leases/renew";

    private readonly VaultSession _session;
    private readonly TimeProvider _time;
    private readonly string[] _allowedPrefixes;
    private readonly ILogger<VaultSecretIssuer> _log;

    public VaultSecretIssuer(VaultSession session, VaultOptions options, TimeProvider time, ILogger<VaultSecretIssuer> log)
    {
        ArgumentNullException.ThrowIfNull(options);
        _session = session;
        _time = time;
        _allowedPrefixes = [.. options.AllowedSecretPathPrefixes];
        _log = log;
    }

    public string Kind => KindName;

    public async ValueTask<IssuedCredential> IssueAsync(IssueRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var path = PathFrom(request.Grant.IssuerParameters);
        var ttlSeconds = request.Grant.Ttl.Ticks / TimeSpan.TicksPerSecond;
        if (ttlSeconds < 1)
        {
            throw VaultFailures.TemplateInvalid("The granted lifetime is shorter than one second.");
        }

        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(_time.GetUtcNow().ToUnixTimeSeconds());
        VaultReply reply;
        try
        {
            // Leases die with the token that created them: keep the broker's token alive for the whole TTL first.
            reply = await _session.SendAsync(HttpMethod.Get, path, TimeSpan.FromSeconds(ttlSeconds), cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException e)
        {
            LogIssueFailed(_log, request.LeaseId, path, e);
            throw VaultFailures.ForIssue(e, path);
        }

        var body = reply.Body;
        VaultLog.Warnings(_log, path, body?.Warnings);
        if (body?.LeaseId is not { Length: > 0 } leaseId)
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Vault.SecretNotLeased,
                $"'{path}' returned no Vault lease (a static secret?): the broker only hands out secrets it can revoke.");
        }

        if (body.Data is not { ValueKind: JsonValueKind.Object } data || body.LeaseDuration <= 0)
        {
            await RevokeLeaseAsync(leaseId, CancellationToken.None).ConfigureAwait(false);
            throw new BrokerException(BrokerFailure.Internal, Reasons.Vault.UnexpectedResponse,
                $"'{path}' returned a lease without data or without a lifetime; it was revoked.");
        }

        var granted = Math.Min(body.LeaseDuration, ttlSeconds);
        var expiresAt = issuedAt.AddSeconds(granted);
        if (_session.TokenExpiresAt is { } parentExpires && parentExpires < expiresAt)
        {
            // Vault revokes a token's leases with the token.
            expiresAt = DateTimeOffset.FromUnixTimeSeconds(parentExpires.ToUnixTimeSeconds());
        }

        if (expiresAt <= issuedAt)
        {
            await RevokeLeaseAsync(leaseId, CancellationToken.None).ConfigureAwait(false);
            throw new BrokerException(BrokerFailure.Unavailable, Reasons.Vault.Unavailable,
                "The broker's Vault token is about to expire; no credential was issued. Retry later.");
        }

        LogIssued(_log, request.LeaseId, path, body.LeaseDuration, granted);
        return new IssuedCredential(KindName, CompactJson(data), leaseId, issuedAt, expiresAt);
    }

    /// <summary>
    /// <c>PUT sys/leases/revoke {"lease_id":…, "sync":true}</c>. Vault answers 204 both when it revoked the lease and
    /// when it no longer knows it (vault/expiration.go revokeCommon: "If there is no entry, nothing to revoke"), so
    /// both are <see cref="RevocationStatus.Revoked"/>. A 202 means Vault queued the revocation instead (a Vault or
    /// proxy that dropped <c>sync</c>): Vault then owns it, with its own retry limit — logged, taken as done, because
    /// asking again would only queue it again. With sync, a backend failure comes back as an error: retried.
    /// 404 here means the sys mount is not reachable for the broker (namespace, permission), never "gone": retried.
    /// </summary>
    /// <remarks>
    /// Only a handle the broker issued is revoked: its MAC verified (<see cref="Lease.BackendHandleUntrusted"/>) and the
    /// Vault lease id under an allowed prefix. Anything else fails (retried, visible as revoke_failed) without a request.
    /// </remarks>
    public async ValueTask<RevocationResult> RevokeAsync(Lease lease, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lease);
        if (NotIssued(lease) is { } why)
        {
            LogHandleRefused(_log, lease.LeaseId, why);
            return RevocationResult.Failed(why);
        }

        return await RevokeLeaseAsync(lease.BackendHandle, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>PUT sys/leases/renew {"lease_id":…, "increment": seconds}</c>, the increment capped at
    /// <paramref name="newExpiresAt"/>; reports the expiry Vault actually granted. The credential stays the same.
    /// </summary>
    public async ValueTask<RenewedCredential> RenewAsync(Lease lease, WorkloadIdentity agent, DateTimeOffset newExpiresAt, DelegationChain? delegation = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var now = _time.GetUtcNow();
        var increment = (long)Math.Floor((newExpiresAt - now).TotalSeconds);
        if (increment < 1)
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Vault.NotRenewable, "The requested expiry is not in the future.");
        }

        if (NotIssued(lease) is { } why)
        {
            LogHandleRefused(_log, lease.LeaseId, why);
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Vault.HandleNotIssued, "This lease's Vault handle cannot be renewed: " + why);
        }

        VaultReply reply;
        try
        {
            // The lease id in the URL, so the broker's Vault policy can limit renewal to the prefixes it issues from.
            reply = await _session.SendAsync(HttpMethod.Put, $"{LeasesRenew}/{lease.BackendHandle}", new LeaseRenewRequest { Increment = increment },
                VaultJsonContext.Default.LeaseRenewRequest, TimeSpan.FromSeconds(increment), cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException e)
        {
            throw VaultFailures.ForRenew(e, LeasesRenew);
        }

        VaultLog.Warnings(_log, LeasesRenew, reply.Body?.Warnings);
        if (reply.Body is not { LeaseDuration: > 0 } renewed)
        {
            throw new BrokerException(BrokerFailure.Internal, Reasons.Vault.UnexpectedResponse, "Vault's renewal answer carries no lease_duration.");
        }

        var granted = Math.Min(renewed.LeaseDuration, increment);
        var expiresAt = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds() + granted);
        if (_session.TokenExpiresAt is { } parentExpires && parentExpires < expiresAt)
        {
            expiresAt = DateTimeOffset.FromUnixTimeSeconds(parentExpires.ToUnixTimeSeconds());
        }

        return new RenewedCredential(expiresAt, null);
    }

    private string PathFrom(IReadOnlyDictionary<string, string> parameters)
    {
        var unknown = parameters.Keys.Where(k => k != IssuerParameterNames.VaultSecretPath).ToList();
        if (unknown.Count > 0)
        {
            throw VaultFailures.TemplateInvalid($"vault-secret templates take only '{IssuerParameterNames.VaultSecretPath}', not {string.Join(", ", unknown.Select(u => $"'{u}'"))}.");
        }

        if (!parameters.TryGetValue(IssuerParameterNames.VaultSecretPath, out var path) || !VaultPaths.IsWellFormed(path))
        {
            throw VaultFailures.TemplateInvalid("vault-secret templates need a relative Vault 'path' without '..', empty segments or a leading '/'.");
        }

        if (!VaultPaths.IsAllowed(path, _allowedPrefixes))
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Vault.PathNotAllowed,
                $"The Vault path '{path}' is not under any of the broker's allowed secret path prefixes.");
        }

        return path;
    }

    /// <summary>Why the lease's handle is not one this broker issued, or null when it is.</summary>
    private string? NotIssued(Lease lease) =>
        lease.BackendHandleUntrusted ? "the backend handle failed its integrity check (not written by this broker)."
        : !VaultPaths.IsLeaseUnder(lease.BackendHandle, _allowedPrefixes) ? "the Vault lease id is not under any allowed secret path prefix."
        : null;

    private async Task<RevocationResult> RevokeLeaseAsync(string leaseId, CancellationToken cancellationToken)
    {
        try
        {
            // The lease id in the URL (as Vault's own CLI sends it), so the broker's Vault policy can grant revocation
            // only under the prefixes it issues from (docs/vault.md): the body form would need all of sys/leases/revoke.
            var reply = await _session.SendAsync(HttpMethod.Put, $"{LeasesRevoke}/{leaseId}", new LeaseRevokeRequest { Sync = true },
                VaultJsonContext.Default.LeaseRevokeRequest, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            if (reply.StatusCode == 202)
            {
                LogRevocationQueued(_log, leaseId);
            }

            return RevocationResult.Revoked;
        }
        catch (VaultException e)
        {
            return VaultFailures.RevokeFailed(e);
        }
    }

    private static string CompactJson(JsonElement data)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            data.WriteTo(writer);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [LoggerMessage(EventId = 6211, EventName = "VaultSecretIssued", Level = LogLevel.Debug,
        Message = "Read Vault secret {Path} for lease {LeaseId}: Vault lease {VaultLeaseSeconds}s, granted {GrantedSeconds}s")]
    private static partial void LogIssued(ILogger logger, string leaseId, string path, long vaultLeaseSeconds, long grantedSeconds);

    [LoggerMessage(EventId = 6212, EventName = "VaultSecretIssueFailed", Level = LogLevel.Warning,
        Message = "Reading Vault secret {Path} for lease {LeaseId} failed")]
    private static partial void LogIssueFailed(ILogger logger, string leaseId, string path, Exception exception);

    [LoggerMessage(EventId = 6213, EventName = "VaultRevocationQueued", Level = LogLevel.Warning,
        Message = "Vault queued the revocation of {VaultLeaseId} (202) although sync was requested; Vault's own retry limit applies")]
    private static partial void LogRevocationQueued(ILogger logger, string vaultLeaseId);

    [LoggerMessage(EventId = 6214, EventName = "VaultSecretHandleRefused", Level = LogLevel.Error,
        Message = "Not acting on the Vault handle of lease {LeaseId}: {Why}")]
    private static partial void LogHandleRefused(ILogger logger, string leaseId, string why);
}
