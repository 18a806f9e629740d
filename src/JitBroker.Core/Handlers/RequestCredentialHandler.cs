using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace JitBroker.Core.Handlers;

/// <summary>
/// RequestCredential, the request path of DESIGN.md step by step: 1 attest → validate → 2 replay → 3 kill switch →
/// 4 decide (or open / collect a step-up approval) → 5–7 commit (mint, record, kill switch again, audit) → return.
/// </summary>
public sealed class RequestCredentialHandler
{
    private readonly AgentAdmission _admission;
    private readonly IPolicyEngine _policy;
    private readonly ApprovalService _approvals;
    private readonly CredentialCommit _commit;
    private readonly BestEffortAudit _audit;
    private readonly BrokerMetrics _metrics;
    private readonly BrokerOptions _options;
    private readonly QuotaGuard _quotas;
    private readonly ILogger<RequestCredentialHandler> _log;

    public RequestCredentialHandler(AgentAdmission admission, IPolicyEngine policy, ApprovalService approvals, CredentialCommit commit,
        BestEffortAudit audit, BrokerMetrics metrics, BrokerOptions options, QuotaGuard quotas, ILogger<RequestCredentialHandler> log)
    {
        _quotas = quotas;
        _admission = admission;
        _policy = policy;
        _approvals = approvals;
        _commit = commit;
        _audit = audit;
        _metrics = metrics;
        _options = options;
        _log = log;
    }

    /// <summary>
    /// Attests, decides and either issues a credential or opens (or collects) a step-up approval.
    /// <paramref name="approval"/> is set when the agent re-submits a request it was told needs approval.
    /// </summary>
    /// <remarks>
    /// The request path's own async steps return pooled ValueTasks: a step that suspends (on Redis or the audit log)
    /// reuses a cached state-machine box instead of allocating one per request. The pool is small (per thread and per
    /// core), so this saves most at low concurrency (docs/benchmarks.md, 2026-12-05 morning). Await each one exactly once.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<RequestOutcome> HandleAsync(
        AttestationEvidence evidence, CredentialRequest request, ApprovalTicket? approval = null, CancellationToken cancellationToken = default)
    {
        // The steps and the metrics around them are one async method: a second one wrapped around it cost a state-machine
        // box per request whenever the pool missed.
        var started = Stopwatch.GetTimestamp();
        try
        {
            // 1 attest: nothing about the request is looked at before we know who is asking.
            var agent = await _admission.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
            request = Validated(request);

            // 2 replay, 3 kill switch. In bound mode a token is bound to the task it was first used for: retries and one
            // lease per tool within that task are fine, a different task is a replay.
            await _admission.AdmitAsync(agent, RequestHash.ForTask(agent.Id, request.TaskId), request.TaskId, cancellationToken).ConfigureAwait(false);

            // 3 quotas: the agent's broker-wide rate, before policy (or any backend) spends work on the request.
            await _quotas.CheckRateAsync(agent, request.TaskId, _quotas.Global, cancellationToken: cancellationToken).ConfigureAwait(false);

            // 4 decide.
            PolicyDecision decision;
            using (var decideSpan = BrokerTracing.Step(BrokerTracing.Decide))
            {
                decision = _policy.Decide(agent, request);
                decideSpan?.SetTag("jitbroker.decision", decision.Effect.ToString().ToLowerInvariant());
            }

            // The deciding rule's own rate, in its own bucket; its other limits tighten the broker's.
            if (decision.Effect != DecisionEffect.Deny && decision.Quota is { HasRate: true } ruleQuota)
            {
                await _quotas.CheckRateAsync(agent, request.TaskId, ruleQuota, decision.RuleIds[0], cancellationToken).ConfigureAwait(false);
            }

            var limits = _quotas.For(decision);
            switch (decision.Effect)
            {
                case DecisionEffect.Deny:
                    BrokerLog.Denied(_log, agent.Id, request.TaskId, request.Intent.Action, decision.RuleIds, decision.Reason);
                    await _audit.RecordAsync(new AuditEvent
                    {
                        Type = AuditEventTypes.RequestDenied, AgentId = agent.Id, TaskId = request.TaskId, Intent = request.Intent,
                        Decision = "deny", RuleIds = decision.RuleIds, Reason = Reasons.PolicyDenied, Detail = decision.Reason, Owner = decision.Owner,
                    }, cancellationToken).ConfigureAwait(false);
                    throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.PolicyDenied, decision.Reason)
                    {
                        AudienceNotAllowed = decision.AudienceNotAllowed,
                    };
                case DecisionEffect.NeedsApproval when approval is null:
                    OpenedApproval opened;
                    try
                    {
                        opened = await _approvals.CreateAsync(agent, request, RequestHash.Of(agent.Id, request), decision,
                            limits.MaxPendingApprovalsPerAgent, cancellationToken).ConfigureAwait(false);
                    }
                    catch (BrokerException ex) when (IsQuotaRefusal(ex))
                    {
                        await _quotas.RecordAsync(agent, request.TaskId, ex, cancellationToken).ConfigureAwait(false);
                        throw;
                    }

                    var pending = opened.Record!;
                    if (opened.Outcome == ApprovalOpening.Created)
                    {
                        // A re-sent identical request gets the approval already open, and no second record.
                        await _audit.RecordAsync(new AuditEvent
                        {
                            Type = AuditEventTypes.ApprovalRequested, AgentId = agent.Id, TaskId = request.TaskId, Intent = request.Intent,
                            Decision = "needs-approval", RuleIds = decision.RuleIds, Detail = pending.ApprovalId, Owner = decision.Owner,
                        }, cancellationToken).ConfigureAwait(false);
                    }

                    return Completed(RequestOutcome.Pending(pending), started);
                case DecisionEffect.NeedsApproval:
                    var wait = approval.Wait > _options.MaxApprovalWait ? _options.MaxApprovalWait : approval.Wait;
                    // A wait holds a call open: each one takes a slot of the agent's and the replica's (none for a plain poll).
                    using (wait > TimeSpan.Zero
                        ? await _quotas.EnterApprovalWaitAsync(agent, request.TaskId, limits, cancellationToken).ConfigureAwait(false)
                        : null)
                    {
                        var collected = await _approvals.CollectAsync(approval.ApprovalId, agent, RequestHash.Of(agent.Id, request), wait,
                            cancellationToken).ConfigureAwait(false);
                        if (collected.State != ApprovalState.Consumed)
                        {
                            return Completed(RequestOutcome.Pending(collected), started);
                        }
                    }

                    break;
            }

            var grant = decision.Grant ?? throw new InvalidOperationException("An allow decision must carry a grant.");

            // 5 mint, 6 record (within the active-lease caps, atomically in the store), kill switch again, 7 audit.
            CredentialGrantResult granted;
            try
            {
                granted = await _commit.IssueAsync(agent, request.TaskId, request.Intent, grant, decision.RuleIds,
                    decidedIntent: DecidedIntent.Keep(request.Intent, _policy), quota: limits,
                    cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (BrokerException ex) when (IsQuotaRefusal(ex))
            {
                await _quotas.RecordAsync(agent, request.TaskId, ex, cancellationToken).ConfigureAwait(false);
                throw;
            }

            return Completed(RequestOutcome.Issued(granted), started);
        }
        catch (BrokerException ex)
        {
            _metrics.RequestCompleted(ex.Failure.ToString().ToLowerInvariant());
            _metrics.RequestRefused(ex.Reason);
            throw;
        }
    }

    private RequestOutcome Completed(RequestOutcome outcome, long started)
    {
        _metrics.RequestCompleted(outcome.Granted is null ? "pending" : "issued");
        if (outcome.Granted is { } granted)
        {
            _metrics.Issued(Stopwatch.GetElapsedTime(started), granted.Lease.IssuerKind);
        }

        return outcome;
    }

    /// <summary>
    /// A quota refusal raised by a step (the store's caps, the pending-approval cap): counted and audited, then rethrown.
    /// Caught in place rather than through a wrapper taking a lambda: no closure, delegate and extra state machine per request.
    /// </summary>
    private static bool IsQuotaRefusal(BrokerException ex) =>
        ex.Failure == BrokerFailure.ResourceExhausted && Reasons.Quota.Includes(ex.Reason);

    private CredentialRequest Validated(CredentialRequest request)
    {
        CredentialRequestValidator.Validate(request);
        if (request.RequestedTtl is { } wanted && wanted < _options.MinTtl)
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid,
                $"requested_ttl must be at least {_options.MinTtl.TotalSeconds:0}s.");
        }

        return request.CredentialKind.Length == 0 ? request with { CredentialKind = _options.DefaultCredentialKind } : request;
    }
}
