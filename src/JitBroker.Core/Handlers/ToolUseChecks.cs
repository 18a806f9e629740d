namespace JitBroker.Core.Handlers;

/// <summary>The verdict on one reported use: the lease it is tied to (null for a refused token the tool could not read), why it is late, or why it is rejected.</summary>
public readonly record struct CheckedUse(string? Rejection, Lease? Lease, string? LateBecause)
{
    public static CheckedUse Reject(string reason) => new(reason, null, null);
}

/// <summary>
/// The checks on one reported use, in order, each with its stable code (<see cref="Reasons.ToolUse"/>): the fields, the
/// fingerprint's shape, the tool serves the audience, the lease exists (an allowed use must name one), is for that audience
/// and carries exactly that credential, and the time lies in the window: not more than
/// <see cref="MaxFutureSkew"/> ahead, not before the lease was issued (less the same skew), and reported no later than
/// the lease's expiry + <see cref="ReportWindowAfterExpiry"/>. A use at or after the lease's revocation is kept and flagged late.
/// </summary>
public sealed class ToolUseChecks(ILeaseLedger leases, TimeProvider time)
{
    public static readonly TimeSpan MaxFutureSkew = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan ReportWindowAfterExpiry = TimeSpan.FromHours(1);

    /// <summary>How long after a use a report of a refused, unreadable token (no lease to bound it) is still taken.</summary>
    public static readonly TimeSpan MaxAgeWithoutLease = TimeSpan.FromHours(1);

    public const int MaxToolLength = CredentialRequestValidator.MaxIdLength;
    public const int MaxResourceLength = 1024;
    public const int MaxReasonLength = 128;

    /// <param name="leaseCache">Leases already read in this batch (a batch names the same lease many times).</param>
    public async Task<CheckedUse> CheckAsync(CredentialUseReport use, IReadOnlySet<string> servedAudiences, Dictionary<string, Lease?> leaseCache,
        CancellationToken cancellationToken = default)
    {
        if (FieldProblem(use) is { } invalid)
        {
            return CheckedUse.Reject(invalid);
        }

        if (!IsFingerprint(use.CredentialFingerprint))
        {
            return CheckedUse.Reject(Reasons.ToolUse.FingerprintMalformed);
        }

        if (!servedAudiences.Contains(use.Audience))
        {
            return CheckedUse.Reject(Reasons.ToolUse.AudienceNotServed);
        }

        var now = time.GetUtcNow();
        var at = use.At!.Value;
        if (at > now + MaxFutureSkew)
        {
            return CheckedUse.Reject(Reasons.ToolUse.TimeOutOfWindow);
        }

        if (use.LeaseId.Length == 0)
        {
            // A token the tool could not read (garbage, another issuer's): worth a record of the refusal, never of a grant.
            return use.Outcome == CredentialUseOutcomes.Allowed ? CheckedUse.Reject(Reasons.ToolUse.LeaseUnknown)
                : at < now - MaxAgeWithoutLease ? CheckedUse.Reject(Reasons.ToolUse.TimeOutOfWindow)
                : new CheckedUse(null, null, null);
        }

        var lease = await LeaseAsync(use.LeaseId, leaseCache, cancellationToken).ConfigureAwait(false);
        if (lease is null)
        {
            return CheckedUse.Reject(Reasons.ToolUse.LeaseUnknown);
        }

        if (!string.Equals(lease.Scope.Audience, use.Audience, StringComparison.Ordinal))
        {
            return CheckedUse.Reject(Reasons.ToolUse.AudienceMismatch);
        }

        // The fingerprint ties the report to the very credential the lease was minted with: a tool cannot attach uses to
        // a lease whose token it never saw, and a token forged with a real jti does not match.
        if (!string.Equals(lease.CredentialFingerprint, use.CredentialFingerprint, StringComparison.Ordinal))
        {
            return CheckedUse.Reject(Reasons.ToolUse.FingerprintMismatch);
        }

        if (at < lease.IssuedAt - MaxFutureSkew || now > lease.ExpiresAt + ReportWindowAfterExpiry)
        {
            return CheckedUse.Reject(Reasons.ToolUse.TimeOutOfWindow);
        }

        return new CheckedUse(null, lease, LateBecause(lease, at));
    }

    /// <summary>Why a use came after the credential died ("after revocation", "after expiry"), or null when it did not.</summary>
    private static string? LateBecause(Lease lease, DateTimeOffset at) =>
        lease.RevokedAt is { } revokedAt ? (at >= revokedAt ? $"after revocation (revoked {revokedAt:O})" : null)
        : lease.State != LeaseState.Active ? "after revocation (revocation in progress)"
        : at >= lease.ExpiresAt ? $"after expiry (expired {lease.ExpiresAt:O})"
        : null;

    private async Task<Lease?> LeaseAsync(string leaseId, Dictionary<string, Lease?> cache, CancellationToken cancellationToken)
    {
        if (!LeaseIds.IsWellFormed(leaseId))
        {
            return null;
        }

        if (!cache.TryGetValue(leaseId, out var lease))
        {
            lease = await leases.GetAsync(leaseId, cancellationToken).ConfigureAwait(false);
            cache[leaseId] = lease;
        }

        return lease;
    }

    private static string? FieldProblem(CredentialUseReport use)
    {
        var outcomeOk = use.Outcome switch
        {
            CredentialUseOutcomes.Allowed => use.Reason.Length == 0,
            CredentialUseOutcomes.Refused => IsText(use.Reason, MaxReasonLength),
            _ => false,
        };
        return outcomeOk && use.At is not null && IsText(use.Tool, MaxToolLength) && IsText(use.Action, MaxToolLength, allowEmpty: true)
            && IsText(use.Resource, MaxResourceLength, allowEmpty: true) && ToolUseOptions.IsAudience(use.Audience)
            && use.LeaseId.Length <= LeaseIds.Prefix.Length + 26
            ? null
            : Reasons.ToolUse.UseInvalid;
    }

    private static bool IsText(string value, int maxLength, bool allowEmpty = false) =>
        (allowEmpty || value.Length > 0) && value.Length <= maxLength && !value.Any(char.IsControl);

    /// <summary><c>sha256:</c> and 64 lowercase hex digits: the only form <see cref="Fingerprints.Of"/> produces.</summary>
    public static bool IsFingerprint(string value) =>
        value.Length == 71 && value.StartsWith("sha256:", StringComparison.Ordinal)
        && value.AsSpan(7).IndexOfAnyExcept(LowerHex) < 0;

    private static readonly System.Buffers.SearchValues<char> LowerHex = System.Buffers.SearchValues.Create("0123456789abcdef");
}
