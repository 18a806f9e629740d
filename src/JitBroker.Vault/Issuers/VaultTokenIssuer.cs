using System.Text.Json;
using JitBroker.Core;
using JitBroker.Vault.Auth;
using Microsoft.Extensions.Logging;

namespace JitBroker.Vault.Issuers;

/// <summary>
/// Kind <c>vault-token</c>: mints a task-scoped Vault service token with <c>auth/token/create</c> (or
/// <c>create/:role_name</c>, or <c>create-orphan</c>), revokes it by accessor, renews it by accessor
/// (api-docs/auth/token.mdx). The token goes to the agent only; the lease keeps the accessor.
/// </summary>
/// <remarks>
/// <c>ttl</c> and <c>explicit_max_ttl</c> are both the granted TTL: Vault will never let the token live past it,
/// even if the broker dies, and so renewal cannot extend it either (a renewal reports the remaining time Vault
/// allows). Child tokens (the default) die with the broker's token; the session keeps that token alive for at
/// least the child's TTL first, and the reported expiry is clamped to the parent's if Vault could not.
/// </remarks>
public sealed partial class VaultTokenIssuer : ICredentialIssuer
{
    /// <summary>The issuer kind this class registers as.</summary>
    public const string KindName = "vault-token";

    private const string RevokeAccessor = "auth/token/revoke-accessor";
    private const string RenewAccessor = "auth/token/renew-accessor";
    private const string LookupAccessor = "auth/token/lookup-accessor";

    /// <summary>Token metadata naming the broker as the token's issuer (with <c>lease_id</c>, checked before revoking).</summary>
    public const string IssuedByMeta = "issued_by";

    /// <summary>The value of <see cref="IssuedByMeta"/>.</summary>
    public const string IssuedByBroker = "jitbroker";

    private readonly VaultSession _session;
    private readonly TimeProvider _time;
    private readonly bool _createOrphans;
    private readonly string? _defaultRole;
    private readonly ILogger<VaultTokenIssuer> _log;

    public VaultTokenIssuer(VaultSession session, VaultOptions options, TimeProvider time, ILogger<VaultTokenIssuer> log)
    {
        ArgumentNullException.ThrowIfNull(options);
        _session = session;
        _time = time;
        _createOrphans = options.CreateOrphanTokens;
        _defaultRole = options.DefaultTokenRole;
        _log = log;
    }

    public string Kind => KindName;

    public async ValueTask<IssuedCredential> IssueAsync(IssueRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var template = VaultTokenTemplate.Parse(request.Grant.IssuerParameters);
        var ttlSeconds = request.Grant.Ttl.Ticks / TimeSpan.TicksPerSecond;
        if (ttlSeconds < 1)
        {
            throw VaultFailures.TemplateInvalid("The granted lifetime is shorter than one second.");
        }

        var path = (template.Role ?? _defaultRole) is { } role ? $"auth/token/create/{role}" : _createOrphans ? "auth/token/create-orphan" : "auth/token/create";
        var body = new TokenCreateRequest
        {
            Policies = template.Policies.Count > 0 ? [.. template.Policies] : null,
            Meta = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["task_id"] = VaultTokenTemplate.BoundMetaValue(request.TaskId),
                ["agent_id"] = VaultTokenTemplate.BoundMetaValue(request.Agent.Id),
                ["lease_id"] = request.LeaseId,
                [IssuedByMeta] = IssuedByBroker,
            },
            Ttl = $"{ttlSeconds}s",
            ExplicitMaxTtl = $"{ttlSeconds}s",
            Renewable = template.Renewable,
            NumUses = template.NumUses,
            DisplayName = VaultTokenTemplate.DisplayNameFor(request.TaskId),
            Type = "service",
            // Task tokens carry exactly the template's (or role's) policies; Vault's "default" policy would add
            // self-management paths (cubbyhole, lookup-self…) the task never asked for.
            NoDefaultPolicy = true,
        };

        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(_time.GetUtcNow().ToUnixTimeSeconds());
        VaultReply reply;
        try
        {
            reply = await _session.SendAsync(HttpMethod.Post, path, body, VaultJsonContext.Default.TokenCreateRequest,
                TimeSpan.FromSeconds(ttlSeconds), cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException e)
        {
            LogIssueFailed(_log, request.LeaseId, path, e);
            throw VaultFailures.ForIssue(e, path);
        }

        VaultLog.Warnings(_log, path, reply.Body?.Warnings);
        var auth = reply.Body?.Auth;
        if (auth?.ClientToken is not { Length: > 0 } token)
        {
            throw new BrokerException(BrokerFailure.Internal, Reasons.Vault.UnexpectedResponse, $"Vault's answer to '{path}' carries no token.");
        }

        if (auth.Accessor is not { Length: > 0 } accessor)
        {
            // A batch token: no accessor, cannot be revoked. Never hand out what the broker cannot take back.
            await UndoWithoutAccessorAsync(token, CancellationToken.None).ConfigureAwait(false);
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Vault.TokenNotRevocable,
                $"'{path}' produced a token without an accessor (a batch token), which cannot be revoked; configure the token role for service tokens.");
        }

        // Report what Vault granted when it is shorter (role or mount max TTL); lease_duration 0 would be a token
        // that never expires (root policy): the broker's own TTL then bounds it, and the broker revokes it then.
        var granted = auth.LeaseDuration > 0 ? Math.Min(auth.LeaseDuration, ttlSeconds) : ttlSeconds;
        var expiresAt = issuedAt.AddSeconds(granted);
        if (!auth.Orphan && _session.TokenExpiresAt is { } parentExpires && parentExpires < expiresAt)
        {
            // Vault revokes children with their parent: the token cannot outlive the broker's own.
            expiresAt = DateTimeOffset.FromUnixTimeSeconds(parentExpires.ToUnixTimeSeconds());
        }

        if (expiresAt <= issuedAt)
        {
            await RevokeAsync(accessor, CancellationToken.None).ConfigureAwait(false);
            throw new BrokerException(BrokerFailure.Unavailable, Reasons.Vault.Unavailable,
                "The broker's Vault token is about to expire; no credential was issued. Retry later.");
        }

        LogIssued(_log, request.LeaseId, path, granted, auth.Orphan);
        return new IssuedCredential(KindName, token, accessor, issuedAt, expiresAt);
    }

    /// <summary>
    /// <c>POST auth/token/revoke-accessor</c>. 204 → revoked (with its children). 400 "invalid accessor" → Vault no
    /// longer knows the token (expired or already revoked): done. A 404 is NOT taken as gone — for this endpoint it
    /// means the token mount is not reachable for the broker (namespace, permission) — so it is retried like any failure.
    /// </summary>
    /// <remarks>
    /// Only a token this broker issued for this lease is revoked: the handle's MAC verified
    /// (<see cref="Lease.BackendHandleUntrusted"/>) and <c>auth/token/lookup-accessor</c> shows metadata naming the broker
    /// and this lease id. Otherwise the revocation fails (retried, visible as revoke_failed) and Vault is not asked to revoke.
    /// </remarks>
    public async ValueTask<RevocationResult> RevokeAsync(Lease lease, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lease);
        switch (await CheckIssuedAsync(lease, cancellationToken).ConfigureAwait(false))
        {
            case { Gone: true }:
                return RevocationResult.AlreadyGone;
            case { Refused: { } why }:
                LogHandleRefused(_log, lease.LeaseId, why);
                return RevocationResult.Failed(why);
            case { Failed: { } failed }:
                return failed;
        }

        return await RevokeAsync(lease.BackendHandle, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>POST auth/token/renew-accessor</c> with an increment up to <paramref name="newExpiresAt"/>. Vault answers with
    /// the TTL it allowed, which the explicit max TTL caps at the original grant. Throws
    /// <see cref="Reasons.Vault.NotRenewable"/> for a non-renewable or unknown token.
    /// </summary>
    public async ValueTask<RenewedCredential> RenewAsync(Lease lease, WorkloadIdentity agent, DateTimeOffset newExpiresAt, DelegationChain? delegation = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var now = _time.GetUtcNow();
        // Rounded down: the contract is "at most newExpiresAt", and a rounded-up increment could outlive it by a second.
        var increment = (long)Math.Floor((newExpiresAt - now).TotalSeconds);
        if (increment < 1)
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Vault.NotRenewable, "The requested expiry is not in the future.");
        }

        switch (await CheckIssuedAsync(lease, cancellationToken).ConfigureAwait(false))
        {
            case { Gone: true }:
                throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Vault.NotRenewable, "Vault no longer knows this token.");
            case { Refused: { } why }:
                LogHandleRefused(_log, lease.LeaseId, why);
                throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Vault.HandleNotIssued, "This lease's Vault token cannot be renewed: " + why);
            case { Failed: { } failed }:
                throw new BrokerException(BrokerFailure.Unavailable, Reasons.Vault.Unavailable, "Vault could not confirm the token: " + failed.Error);
        }

        VaultReply reply;
        try
        {
            reply = await _session.SendAsync(HttpMethod.Post, RenewAccessor, new AccessorRequest { Accessor = lease.BackendHandle, Increment = $"{increment}s" },
                VaultJsonContext.Default.AccessorRequest, TimeSpan.FromSeconds(increment), cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException e)
        {
            throw VaultFailures.ForRenew(e, RenewAccessor);
        }

        VaultLog.Warnings(_log, RenewAccessor, reply.Body?.Warnings);
        var granted = reply.Body?.Auth?.LeaseDuration is > 0 and var seconds ? Math.Min(seconds, increment) : increment;
        return new RenewedCredential(DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds() + granted), null);
    }

    /// <summary>
    /// Whether the accessor belongs to a token this broker created for <paramref name="lease"/>: someone who can write
    /// the lease store must not be able to make the broker revoke (or renew) another service's token.
    /// </summary>
    private async Task<IssuedCheck> CheckIssuedAsync(Lease lease, CancellationToken cancellationToken)
    {
        if (lease.BackendHandleUntrusted)
        {
            return new IssuedCheck(Refused: "the backend handle failed its integrity check (not written by this broker).");
        }

        VaultReply reply;
        try
        {
            reply = await _session.SendAsync(HttpMethod.Post, LookupAccessor, new AccessorRequest { Accessor = lease.BackendHandle },
                VaultJsonContext.Default.AccessorRequest, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException e) when (e.StatusCode == 400 && e.VaultSaid("invalid accessor"))
        {
            return new IssuedCheck(Gone: true);
        }
        catch (VaultException e)
        {
            return new IssuedCheck(Failed: VaultFailures.RevokeFailed(e));
        }

        var meta = reply.Body?.Data is { ValueKind: JsonValueKind.Object } data
            && data.TryGetProperty("meta", out var m) && m.ValueKind == JsonValueKind.Object ? m : default;
        return MetaSays(meta, IssuedByMeta, IssuedByBroker) && MetaSays(meta, "lease_id", lease.LeaseId)
            ? new IssuedCheck()
            : new IssuedCheck(Refused: "the Vault token's metadata does not name this broker and this lease.");
    }

    private static bool MetaSays(JsonElement meta, string name, string expected) =>
        meta.ValueKind == JsonValueKind.Object && meta.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
        && string.Equals(v.GetString(), expected, StringComparison.Ordinal);

    private async Task<RevocationResult> RevokeAsync(string accessor, CancellationToken cancellationToken)
    {
        try
        {
            await _session.SendAsync(HttpMethod.Post, RevokeAccessor, new AccessorRequest { Accessor = accessor },
                VaultJsonContext.Default.AccessorRequest, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            return RevocationResult.Revoked;
        }
        catch (VaultException e) when (e.StatusCode == 400 && e.VaultSaid("invalid accessor"))
        {
            // vault/token_store.go lookupByAccessor: an accessor with no index entry answers 400 "invalid accessor".
            return RevocationResult.AlreadyGone;
        }
        catch (VaultException e)
        {
            return VaultFailures.RevokeFailed(e);
        }
    }

    private async Task UndoWithoutAccessorAsync(string token, CancellationToken cancellationToken = default)
    {
        try
        {
            await _session.SendAsync(HttpMethod.Post, "auth/token/revoke", new TokenRequest { Token = token },
                VaultJsonContext.Default.TokenRequest, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException e)
        {
            // Batch tokens cannot be revoked at all; its explicit max TTL still bounds it.
            LogUndoFailed(_log, Fingerprints.Of(token), e);
        }
    }

    [LoggerMessage(EventId = 6201, EventName = "VaultTokenIssued", Level = LogLevel.Debug,
        Message = "Created Vault token for lease {LeaseId} at {Path}: TTL {GrantedSeconds}s, orphan {Orphan}")]
    private static partial void LogIssued(ILogger logger, string leaseId, string path, long grantedSeconds, bool orphan);

    [LoggerMessage(EventId = 6202, EventName = "VaultTokenIssueFailed", Level = LogLevel.Warning,
        Message = "Creating a Vault token for lease {LeaseId} at {Path} failed")]
    private static partial void LogIssueFailed(ILogger logger, string leaseId, string path, Exception exception);

    [LoggerMessage(EventId = 6203, EventName = "VaultTokenUndoFailed", Level = LogLevel.Error,
        Message = "Could not revoke accessor-less Vault token {Fingerprint}; its TTL bounds it")]
    private static partial void LogUndoFailed(ILogger logger, string fingerprint, Exception exception);

    [LoggerMessage(EventId = 6204, EventName = "VaultTokenHandleRefused", Level = LogLevel.Error,
        Message = "Not acting on the Vault token of lease {LeaseId}: {Why}")]
    private static partial void LogHandleRefused(ILogger logger, string leaseId, string why);

    /// <summary>The outcome of <see cref="CheckIssuedAsync"/>: issued (all null/false), gone, refused, or Vault failed.</summary>
    private readonly record struct IssuedCheck(bool Gone = false, string? Refused = null, RevocationResult? Failed = null);
}
