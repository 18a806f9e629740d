namespace JitBroker.Core.Handlers;

/// <summary>
/// Who may use the admin API, checked on every call in this order: the caller attests (failures audited as on the
/// agent path); it matches one of <see cref="AdminOptions.Principals"/> (agents never do); its bearer token has not
/// been presented before — strictly once, whatever <see cref="BrokerOptions.ReplayMode"/> says for agents, because a
/// captured operator token is worth more than any agent's; and no kill-switch block covers the operator (a blocked
/// principal must not be able to lift its own block). Every refusal of an attested caller is audited as
/// <see cref="AuditEventTypes.AdminRefused"/> with the operation it asked for.
/// </summary>
public sealed class AdminAuthorization
{
    private readonly AgentAdmission _admission;
    private readonly ReplayGuard _replay;
    private readonly IKillSwitch _killSwitch;
    private readonly BestEffortAudit _audit;
    private readonly TimeProvider _time;
    private readonly GlobPattern[] _admins;

    public AdminAuthorization(AgentAdmission admission, ReplayGuard replay, IKillSwitch killSwitch, BestEffortAudit audit, AdminOptions options,
        TimeProvider time)
    {
        // Settings validation refuses these at start-up; checked again here so no other composition can skip it.
        if (options.Validate().FirstOrDefault() is { } problem)
        {
            throw new ArgumentException(problem, nameof(options));
        }

        _admission = admission;
        _replay = replay;
        _killSwitch = killSwitch;
        _audit = audit;
        _time = time;
        _admins = [.. options.Principals.Select(GlobPattern.Parse)];
    }

    /// <summary>
    /// Attests the caller and requires an unblocked admin principal presenting a fresh token; <paramref name="operation"/>
    /// (the gRPC method) names the refused call in the audit record. PermissionDenied for non-admins and blocked admins,
    /// Unauthenticated for a replayed token.
    /// </summary>
    public async Task<WorkloadIdentity> AuthorizeAsync(AttestationEvidence evidence, string operation = "", CancellationToken cancellationToken = default)
    {
        var caller = await _admission.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_admins.Any(a => a.IsMatch(caller.Id)))
            {
                throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.Admin.NotAnAdmin, "The admin API is for configured operators only.");
            }

            await _replay.CheckSingleUseAsync(caller, cancellationToken).ConfigureAwait(false);
            if (await _killSwitch.FindBlockAsync(caller.Id, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false) is { } block)
            {
                throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.Admin.Blocked,
                    $"This operator identity is blocked ({block.Reason}); another operator must lift the block.");
            }

            return caller;
        }
        catch (BrokerException ex) when (ex.Failure is BrokerFailure.PermissionDenied or BrokerFailure.Unauthenticated)
        {
            await _audit.RecordAsync(new AuditEvent
            {
                Type = AuditEventTypes.AdminRefused, Actor = caller.Id, Decision = "deny", Reason = ex.Reason, Detail = operation,
                CredentialFingerprint = caller.EvidenceFingerprint,
            }, cancellationToken).ConfigureAwait(false);
            throw;
        }
    }
}
