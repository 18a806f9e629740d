using Google.Protobuf.WellKnownTypes;
using JitBroker.Core;
using JitBroker.Core.Handlers;
using Grpc.Core;
using JitBroker.Protocol.V1;

namespace JitBroker.Server;

/// <summary>
/// <c>jitbroker.v1.BrokerAdmin</c> on the wire: every call authorises the caller as an admin principal
/// first (<see cref="AdminAuthorization"/>), then maps to the handler of the operation. Audit tail/verify read the
/// audit log through <see cref="IAuditReader"/>.
/// </summary>
[BindServiceMethod(typeof(StrictRequestBinding), nameof(StrictRequestBinding.BindAdmin))]
public sealed class BrokerAdminGrpcService(
    AdminAuthorization authorization,
    ListLeasesHandler listLeases,
    RevokeLeasesHandler revokeLeases,
    KillSwitchHandler killSwitch,
    ApprovalDecisionHandler approvals,
    IAuditReader auditReader,
    Ssf.ReceiverStatus? receivers = null) : BrokerAdmin.BrokerAdminBase
{
    public const string ServiceName = "jitbroker.v1.BrokerAdmin";

    private readonly IAuditReader _auditReader = auditReader;

    public override Task<ListLeasesResponse> ListLeases(ListLeasesRequest request, ServerCallContext context) =>
        AsAdmin(request, context, ListLeasesAsync);

    public override Task<RevokeLeasesResponse> RevokeLeases(RevokeLeasesRequest request, ServerCallContext context) =>
        AsAdmin(request, context, RevokeLeasesAsync);

    public override Task<BlockAgentResponse> BlockAgent(BlockAgentRequest request, ServerCallContext context) =>
        AsAdmin(request, context, BlockAsync);

    public override Task<UnblockAgentResponse> UnblockAgent(UnblockAgentRequest request, ServerCallContext context) =>
        AsAdmin(request, context, async (r, a, ct) => new UnblockAgentResponse { Removed = await killSwitch.UnblockAsync(a, r.Pattern, r.Reason, ct) });

    public override Task<Protocol.V1.RevocationProgress> GetRevocationProgress(GetRevocationProgressRequest request, ServerCallContext context) =>
        AsAdmin(request, context, async (r, _, ct) => ToMessage(await revokeLeases.GetProgressAsync(r.RevocationId, ct)));

    public override Task<ListReceiversResponse> ListReceivers(ListReceiversRequest request, ServerCallContext context) =>
        AsAdmin(request, context, async (_, _, ct) => receivers is null ? new ListReceiversResponse() : await receivers.ListAsync(ct));

    public override Task<ListBlocksResponse> ListBlocks(ListBlocksRequest request, ServerCallContext context) =>
        AsAdmin(request, context, async (_, _, ct) =>
        {
            var response = new ListBlocksResponse();
            response.Blocks.AddRange((await killSwitch.ListBlocksAsync(ct)).Select(ToMessage));
            return response;
        });

    public override Task<ListApprovalsResponse> ListApprovals(ListApprovalsRequest request, ServerCallContext context) =>
        AsAdmin(request, context, async (r, _, ct) =>
        {
            var response = new ListApprovalsResponse();
            response.Approvals.AddRange((await approvals.ListPendingAsync(r.Max == 0 ? 100 : r.Max, ct)).Select(ToMessage));
            return response;
        });

    public override Task<ApprovalInfo> GetApproval(GetApprovalRequest request, ServerCallContext context) =>
        AsAdmin(request, context, async (r, _, ct) => ToMessage(await approvals.GetAsync(r.ApprovalId, ct)
            ?? throw new BrokerException(BrokerFailure.NotFound, Reasons.Approval.NotFound, $"No approval '{r.ApprovalId}'.")));

    public override Task<ApprovalInfo> DecideApproval(DecideApprovalRequest request, ServerCallContext context) =>
        AsAdmin(request, context, async (r, a, ct) => ToMessage(await approvals.DecideAsync(a, r.ApprovalId, r.Approve, r.Reason, ct)));

    public override Task<TailAuditResponse> TailAudit(TailAuditRequest request, ServerCallContext context) =>
        AsAdmin(request, context, async (r, _, ct) =>
        {
            var response = new TailAuditResponse();
            response.Records.AddRange(await _auditReader.TailAsync(Math.Clamp(r.Count == 0 ? 20 : r.Count, 1, 10_000), ct));
            return response;
        });

    public override Task<VerifyAuditResponse> VerifyAudit(VerifyAuditRequest request, ServerCallContext context) =>
        AsAdmin(request, context, (_, _, ct) => _auditReader.VerifyAsync(ct));

    /// <summary>Every admin call authorises the caller first: an unblocked admin principal presenting a token it has never presented before.</summary>
    private async Task<TResponse> AsAdmin<TRequest, TResponse>(TRequest request, ServerCallContext context,
        Func<TRequest, WorkloadIdentity, CancellationToken, Task<TResponse>> handler)
    {
        var admin = await authorization.AuthorizeAsync(Evidence.From(context, transportCertificateOnly: true), context.Method, context.CancellationToken);
        return await handler(request, admin, context.CancellationToken);
    }

    private async Task<ListLeasesResponse> ListLeasesAsync(ListLeasesRequest r, WorkloadIdentity _, CancellationToken ct)
    {
        var page = await listLeases.ListAsync(new LeaseQuery
        {
            AgentId = Empty(r.AgentId),
            TaskId = Empty(r.TaskId),
            State = r.State.Length == 0 ? null : LeaseStates.Parse(r.State),
            IssuerKind = Empty(r.IssuerKind),
            ExpiresBefore = r.ExpiringBefore?.ToDateTimeOffset(),
            PageSize = r.PageSize == 0 ? 100 : r.PageSize,
            PageToken = Empty(r.PageToken),
        }, ct);
        var response = new ListLeasesResponse { NextPageToken = page.NextPageToken ?? "" };
        response.Leases.AddRange(page.Leases.Select(ToMessage));
        return response;
    }

    private async Task<RevokeLeasesResponse> RevokeLeasesAsync(RevokeLeasesRequest r, WorkloadIdentity admin, CancellationToken ct)
    {
        RevokeSelector selector = r.SelectorCase switch
        {
            RevokeLeasesRequest.SelectorOneofCase.LeaseId => new RevokeSelector.Lease(r.LeaseId),
            RevokeLeasesRequest.SelectorOneofCase.TaskId => new RevokeSelector.Task(Empty(r.TaskAgentId), r.TaskId),
            RevokeLeasesRequest.SelectorOneofCase.AgentId => new RevokeSelector.Agent(r.AgentId),
            RevokeLeasesRequest.SelectorOneofCase.AgentPattern => new RevokeSelector.AgentPattern(r.AgentPattern),
            RevokeLeasesRequest.SelectorOneofCase.All when r.All => new RevokeSelector.All(),
            _ => throw Invalid("Name what to revoke: lease_id, task_id, agent_id, agent_pattern or all."),
        };
        return ToMessage(await revokeLeases.RevokeAsync(admin, selector, r.Confirm, r.Reason, ct));
    }

    private async Task<BlockAgentResponse> BlockAsync(BlockAgentRequest r, WorkloadIdentity admin, CancellationToken ct)
    {
        var (block, revocations) = await killSwitch.BlockAsync(admin, r.Pattern, r.Reason, r.Duration is null ? null : CredentialBrokerGrpcService.ToTimeSpan(r.Duration, "duration"), ct);
        return new BlockAgentResponse { Block = ToMessage(block), Revocations = ToMessage(revocations) };
    }

    private static BrokerException Invalid(string message) => new(BrokerFailure.InvalidArgument, Reasons.RequestInvalid, message);

    private static string? Empty(string value) => value.Length == 0 ? null : value;

    internal static LeaseInfo ToMessage(Lease l)
    {
        var info = new LeaseInfo
        {
            LeaseId = l.LeaseId, TaskId = l.TaskId, AgentId = l.AgentId, ParentLeaseId = l.ParentLeaseId ?? "", IssuerKind = l.IssuerKind,
            State = LeaseStates.Name(l.State), Audience = l.Scope.Audience, Action = l.Scope.Action,
            IssuedAt = Timestamp.FromDateTimeOffset(l.IssuedAt), ExpiresAt = Timestamp.FromDateTimeOffset(l.ExpiresAt),
            Attempts = l.Attempts, LastError = l.LastError ?? "", CredentialFingerprint = l.CredentialFingerprint, Owner = l.Owner ?? "",
        };
        info.Tools.AddRange(l.Scope.Tools);
        info.Resources.AddRange(l.Scope.Resources);
        info.RuleIds.AddRange(l.RuleIds);
        return info;
    }

    private static RevokeLeasesResponse ToMessage(RevokeSummary s) => new()
    {
        Matched = Clamp(s.Matched), Scheduled = Clamp(s.Scheduled), InProgress = Clamp(s.InProgress), AlreadyRevoked = Clamp(s.AlreadyRevoked),
        RevocationId = s.BatchId,
    };

    private static Protocol.V1.RevocationProgress ToMessage(Core.RevocationProgress p) => new()
    {
        RevocationId = p.BatchId, Total = p.Total, Revoked = p.Revoked, Failing = p.Failing, Done = p.IsDone,
    };

    private static int Clamp(long n) => (int)Math.Min(n, int.MaxValue);

    private static AgentBlockInfo ToMessage(AgentBlock b) => new()
    {
        Pattern = b.Pattern, Reason = b.Reason, BlockedBy = b.BlockedBy, BlockedAt = Timestamp.FromDateTimeOffset(b.BlockedAt),
        ExpiresAt = b.ExpiresAt is { } end ? Timestamp.FromDateTimeOffset(end) : null,
    };

    private static ApprovalInfo ToMessage(ApprovalRecord a)
    {
        var info = new ApprovalInfo
        {
            ApprovalId = a.ApprovalId, State = a.State.ToString().ToLowerInvariant(), AgentId = a.AgentId, TaskId = a.Request.TaskId,
            Action = a.Request.Intent.Action, Purpose = a.Request.Intent.Purpose, Audience = a.Request.Target, CredentialKind = a.Request.CredentialKind,
            TtlSeconds = (long)(a.Request.RequestedTtl?.TotalSeconds ?? 0), CreatedAt = Timestamp.FromDateTimeOffset(a.CreatedAt),
            ExpiresAt = Timestamp.FromDateTimeOffset(a.ExpiresAt), DecidedBy = a.DecidedBy ?? "", DecisionReason = a.DecisionReason ?? "",
            RequestHash = a.RequestHash,
        };
        info.Tools.AddRange(a.Request.Intent.Tools);
        info.Resources.AddRange(a.Request.Intent.Resources);
        info.RuleIds.AddRange(a.RuleIds);
        info.Approvers.AddRange(a.Approvers);
        return info;
    }
}

/// <summary>Lease states as operators type and read them.</summary>
internal static class LeaseStates
{
    public static string Name(LeaseState state) => state switch
    {
        LeaseState.Active => "active",
        LeaseState.Revoking => "revoking",
        LeaseState.Revoked => "revoked",
        _ => "revoke_failed",
    };

    public static LeaseState Parse(string value) => value switch
    {
        "active" => LeaseState.Active,
        "revoking" => LeaseState.Revoking,
        "revoked" => LeaseState.Revoked,
        "revoke_failed" => LeaseState.RevokeFailed,
        _ => throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid, "state must be active, revoking, revoked or revoke_failed."),
    };
}

/// <summary>Read access to the audit log for the admin API (implemented over the audit component).</summary>
public interface IAuditReader
{
    Task<IReadOnlyList<string>> TailAsync(int count, CancellationToken cancellationToken = default);

    Task<VerifyAuditResponse> VerifyAsync(CancellationToken cancellationToken = default);
}
