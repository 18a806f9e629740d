using System.Collections.ObjectModel;
using Google.Protobuf.Collections;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using JitBroker.Core;
using JitBroker.Core.Handlers;
using JitBroker.Protocol.V1;

namespace JitBroker.Server;

/// <summary>
/// <c>jitbroker.v1.CredentialBroker</c> on the wire. Thin by design: each method maps a message to a
/// call of the use case's handler and the result back to a message. Every decision lives in the handlers
/// (<c>JitBroker.Core.Handlers</c>); failures are <see cref="BrokerException"/>s that
/// <see cref="GrpcDoor"/> turns into statuses.
/// </summary>
/// <remarks>
/// Every method passes the door inline — <c>door.EnterAgentCall</c> first, <c>call.Refuse</c> for a refusal,
/// <c>call.Leave</c> in the <c>finally</c> — rather than through an interceptor, which cost three async steps per call;
/// AgentDoorTests checks each method of the service for it.
/// </remarks>
[BindServiceMethod(typeof(StrictRequestBinding), nameof(StrictRequestBinding.BindCredentialBroker))]
internal sealed class CredentialBrokerGrpcService(
    GrpcDoor door,
    RequestCredentialHandler requestCredential,
    EndTaskHandler endTask,
    IntrospectionHandler introspection,
    RenewCredentialHandler renewCredential,
    OfferDelegationHandler offerDelegation,
    DelegateCredentialHandler delegateCredential,
    ReportUsesHandler reportUses) : Protocol.V1.CredentialBroker.CredentialBrokerBase
{
    public const string ServiceName = "jitbroker.v1.CredentialBroker";

    public override Task<RequestCredentialResponse> RequestCredential(RequestCredentialRequest request, ServerCallContext context) =>
        RequestCredentialAsync(request, context);

    public override Task<EndTaskResponse> EndTask(EndTaskRequest request, ServerCallContext context) => EndTaskAsync(request, context);

    public override Task<IntrospectCredentialResponse> IntrospectCredential(IntrospectCredentialRequest request, ServerCallContext context) =>
        IntrospectAsync(request, context);

    public override Task<RenewCredentialResponse> RenewCredential(RenewCredentialRequest request, ServerCallContext context) =>
        RenewAsync(request, context);

    public override Task<OfferDelegationResponse> OfferDelegation(OfferDelegationRequest request, ServerCallContext context) =>
        OfferDelegationAsync(request, context);

    public override Task<DelegateCredentialResponse> DelegateCredential(DelegateCredentialRequest request, ServerCallContext context) =>
        DelegateAsync(request, context);

    public override Task<ReportUsesResponse> ReportUses(ReportUsesRequest request, ServerCallContext context) => ReportUsesAsync(request, context);

    private async Task<ReportUsesResponse> ReportUsesAsync(ReportUsesRequest request, ServerCallContext context)
    {
        var call = door.EnterAgentCall(context);
        try
        {
            var uses = request.Uses.Select(u => new CredentialUseReport(u.CredentialFingerprint, u.LeaseId, u.Tool, u.Action, u.Resource, u.Outcome,
                u.Reason, ToInstant(u.At), u.Audience)).ToList();
            var result = await reportUses.HandleAsync(Evidence.From(context, call.Peer), uses, context.CancellationToken);
            var response = new ReportUsesResponse { Accepted = result.Accepted, Rejected = result.Rejected };
            response.RejectedReasons.AddRange(result.RejectedReasons);
            return response;
        }
        catch (BrokerException ex)
        {
            throw call.Refuse(ex);
        }
        finally
        {
            call.Leave();
        }
    }

    // A timestamp outside what DateTimeOffset holds (or with out-of-range nanos) is no time at all: the use is rejected, not the call.
    private static DateTimeOffset? ToInstant(Timestamp? at) =>
        at is null || at.Seconds < -62135596800 || at.Seconds > 253402300799 || at.Nanos is < 0 or > 999_999_999 ? null : at.ToDateTimeOffset();

    private async Task<RequestCredentialResponse> RequestCredentialAsync(RequestCredentialRequest request, ServerCallContext context)
    {
        var call = door.EnterAgentCall(context);
        try
        {
            var intent = request.Intent ?? new Protocol.V1.TaskIntent();
            var domainRequest = new CredentialRequest(
                request.TaskId,
                new Core.TaskIntent(intent.Action, intent.Purpose, CopyOf(intent.Tools), CopyOf(intent.Resources), CopyOf(intent.Context)),
                request.CredentialKind,
                request.Target,
                request.RequestedTtl is null ? null : ToTimeSpan(request.RequestedTtl));

            var ticket = request.ApprovalId.Length == 0 ? null
                : new ApprovalTicket(request.ApprovalId, request.AwaitApproval is null ? TimeSpan.Zero : ToTimeSpan(request.AwaitApproval, "await_approval"));
            var outcome = await requestCredential.HandleAsync(Evidence.From(context, call.Peer), domainRequest, ticket, context.CancellationToken);
            if (outcome.PendingApproval is { } pending)
            {
                var waiting = new RequestCredentialResponse
                {
                    PendingApproval = new PendingApproval
                    {
                        ApprovalId = pending.ApprovalId,
                        ExpiresAt = Timestamp.FromDateTimeOffset(pending.ExpiresAt),
                        Reason = "This request needs a human's approval before a credential is issued.",
                    },
                };
                waiting.PendingApproval.Approvers.AddRange(pending.Approvers);
                waiting.PendingApproval.RuleIds.AddRange(pending.RuleIds);
                waiting.RuleIds.AddRange(pending.RuleIds);
                return waiting;
            }

            var result = outcome.Granted!;
            var lease = result.Lease;
            var response = new RequestCredentialResponse
            {
                LeaseId = lease.LeaseId,
                Credential = new Credential { Kind = result.Credential.Kind, Token = result.Credential.Secret },
                Scope = ToMessage(lease.Scope),
                GrantedTtl = Duration.FromTimeSpan(lease.ExpiresAt - lease.IssuedAt),
                ExpiresAt = Timestamp.FromDateTimeOffset(lease.ExpiresAt),
            };
            Fill(response.RuleIds, lease.RuleIds);
            return response;
        }
        catch (BrokerException ex)
        {
            throw call.Refuse(ex);
        }
        finally
        {
            call.Leave();
        }
    }

    private async Task<EndTaskResponse> EndTaskAsync(EndTaskRequest request, ServerCallContext context)
    {
        var call = door.EnterAgentCall(context);
        try
        {
            var result = await endTask.HandleAsync(Evidence.From(context, call.Peer), request.TaskId, context.CancellationToken);
            var response = new EndTaskResponse { TaskId = result.TaskId };
            foreach (var outcome in result.Leases)
            {
                response.Leases.Add(new LeaseOutcome
                {
                    LeaseId = outcome.LeaseId,
                    Outcome = outcome.Outcome switch
                    {
                        LeaseOutcomeKind.Revoked => LeaseOutcome.Types.Outcome.Revoked,
                        LeaseOutcomeKind.AlreadyRevoked => LeaseOutcome.Types.Outcome.AlreadyRevoked,
                        _ => LeaseOutcome.Types.Outcome.Failed,
                    },
                    Error = outcome.Error ?? "",
                });
            }

            return response;
        }
        catch (BrokerException ex)
        {
            throw call.Refuse(ex);
        }
        finally
        {
            call.Leave();
        }
    }

    private async Task<RenewCredentialResponse> RenewAsync(RenewCredentialRequest request, ServerCallContext context)
    {
        var call = door.EnterAgentCall(context);
        try
        {
            var result = await renewCredential.HandleAsync(Evidence.From(context, call.Peer), request.LeaseId,
                request.RequestedTtl is null ? null : ToTimeSpan(request.RequestedTtl), context.CancellationToken);
            return new RenewCredentialResponse
            {
                LeaseId = result.Lease.LeaseId,
                Credential = result.NewSecret is null ? null : new Credential { Kind = result.Lease.IssuerKind, Token = result.NewSecret },
                ExpiresAt = Timestamp.FromDateTimeOffset(result.Lease.ExpiresAt),
            };
        }
        catch (BrokerException ex)
        {
            throw call.Refuse(ex);
        }
        finally
        {
            call.Leave();
        }
    }

    private async Task<OfferDelegationResponse> OfferDelegationAsync(OfferDelegationRequest request, ServerCallContext context)
    {
        var call = door.EnterAgentCall(context);
        try
        {
            var (token, offer) = await offerDelegation.HandleAsync(Evidence.From(context, call.Peer), request.ParentLeaseId, request.WorkerId,
                [.. request.Tools], [.. request.Resources], request.RequestedTtl is null ? null : ToTimeSpan(request.RequestedTtl), context.CancellationToken);
            return new OfferDelegationResponse { Offer = token, OfferExpiresAt = Timestamp.FromDateTimeOffset(offer.ExpiresAt) };
        }
        catch (BrokerException ex)
        {
            throw call.Refuse(ex);
        }
        finally
        {
            call.Leave();
        }
    }

    private async Task<DelegateCredentialResponse> DelegateAsync(DelegateCredentialRequest request, ServerCallContext context)
    {
        var call = door.EnterAgentCall(context);
        try
        {
            var result = await delegateCredential.HandleAsync(Evidence.From(context, call.Peer), request.Offer, context.CancellationToken);
            var lease = result.Lease;
            var response = new DelegateCredentialResponse
            {
                LeaseId = lease.LeaseId,
                Credential = new Credential { Kind = result.Credential.Kind, Token = result.Credential.Secret },
                Scope = ToMessage(lease.Scope),
                ExpiresAt = Timestamp.FromDateTimeOffset(lease.ExpiresAt),
                ParentLeaseId = lease.ParentLeaseId ?? "",
                Subject = result.Delegation?.Subject ?? "",
            };
            response.Actors.AddRange(result.Delegation?.Actors ?? []);
            return response;
        }
        catch (BrokerException ex)
        {
            throw call.Refuse(ex);
        }
        finally
        {
            call.Leave();
        }
    }

    private async Task<IntrospectCredentialResponse> IntrospectAsync(IntrospectCredentialRequest request, ServerCallContext context)
    {
        var call = door.EnterAgentCall(context);
        try
        {
            var result = await introspection.HandleAsync(Evidence.From(context, call.Peer), request.Token, context.CancellationToken);
            if (!result.Active || result.Claims is not { } claims)
            {
                return new IntrospectCredentialResponse { Active = false };
            }

            var response = new IntrospectCredentialResponse
            {
                Active = true,
                LeaseId = claims.LeaseId,
                Subject = claims.Subject,
                Audience = claims.Scope.Audience,
                TaskId = claims.TaskId,
                Action = claims.Scope.Action,
                IssuedAt = Timestamp.FromDateTimeOffset(claims.IssuedAt),
                ExpiresAt = Timestamp.FromDateTimeOffset(claims.ExpiresAt),
                Issuer = claims.Issuer,
                CredentialKind = result.CredentialKind ?? "",
            };
            response.Tools.AddRange(claims.Scope.Tools);
            response.Resources.AddRange(claims.Scope.Resources);
            return response;
        }
        catch (BrokerException ex)
        {
            throw call.Refuse(ex);
        }
        finally
        {
            call.Leave();
        }
    }

    // Copies, not the message's own collections: the intent may outlive the call (approvals, re-evaluation) and must not
    // share mutable state with a message. Empty ones (a context is usually absent) share one immutable instance
    // instead of a fresh empty wrapper or dictionary per call.
    // CopyTo into an exact array: a spread enumerated the field through a boxed iterator into a wrapped list.
    private static string[] CopyOf(RepeatedField<string> values)
    {
        if (values.Count == 0)
        {
            return [];
        }

        var copy = new string[values.Count];
        values.CopyTo(copy, 0);
        return copy;
    }

    private static IReadOnlyDictionary<string, string> CopyOf(MapField<string, string> map) =>
        map.Count == 0 ? ReadOnlyDictionary<string, string>.Empty : map.ToDictionary();

    private static Protocol.V1.GrantedScope ToMessage(Core.GrantedScope scope)
    {
        var message = new Protocol.V1.GrantedScope { Audience = scope.Audience, Action = scope.Action };
        Fill(message.Tools, scope.Tools);
        Fill(message.Resources, scope.Resources);
        return message;
    }

    /// <summary>
    /// Adds <paramref name="values"/> into an array of their size (AddRange alone grows it to at least 8), by index:
    /// AddRange walks a read-only collection through a boxed enumerator.
    /// </summary>
    private static void Fill(RepeatedField<string> field, IReadOnlyList<string> values)
    {
        field.Capacity = field.Count + values.Count;
        for (var i = 0; i < values.Count; i++)
        {
            field.Add(values[i]);
        }
    }

    internal static TimeSpan ToTimeSpan(Duration duration, string field = "requested_ttl")
    {
        // Duration.ToTimeSpan throws on out-of-range or unnormalised values (nanos of the other sign than seconds);
        // a hostile request gets INVALID_ARGUMENT instead. Every duration the API takes is non-negative.
        if (duration.Seconds is < 0 or > 366L * 24 * 3600 || duration.Nanos is < 0 or > 999_999_999)
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid, $"{field} is out of range.");
        }

        return duration.ToTimeSpan();
    }
}
