using Google.Protobuf;
using JitBroker.Protocol.V1;
using JitBroker.Wire;

namespace JitBroker.Cli;

/// <summary>Typed client for <c>jitbroker.v1.BrokerAdmin</c>; the operator's identity goes in the authorization metadata.</summary>
public sealed class AdminClient : IDisposable
{
    private const string Service = "jitbroker.v1.BrokerAdmin";
    private readonly GrpcClient _grpc;
    private readonly string _identity;
    private readonly TimeSpan _timeout;

    public AdminClient(Uri address, string identityToken, TimeSpan timeout, GrpcClientOptions? options = null)
    {
        _grpc = new GrpcClient(address, options);
        _identity = identityToken;
        _timeout = timeout;
    }

    public Task<TResponse> CallAsync<TRequest, TResponse>(string method, TRequest request, MessageParser<TResponse> parser, CancellationToken cancellationToken = default)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        var headers = new Metadata();
        headers.Add("authorization", "Bearer " + _identity);
        return _grpc.CallUnaryAsync(Service, method, request, parser, new CallOptions(headers, TimeProvider.System.GetUtcNow() + _timeout), cancellationToken);
    }

    public Task<ListLeasesResponse> ListLeasesAsync(ListLeasesRequest r, CancellationToken ct = default) => CallAsync("ListLeases", r, ListLeasesResponse.Parser, ct);

    public Task<RevokeLeasesResponse> RevokeAsync(RevokeLeasesRequest r, CancellationToken ct = default) => CallAsync("RevokeLeases", r, RevokeLeasesResponse.Parser, ct);

    public Task<BlockAgentResponse> BlockAsync(BlockAgentRequest r, CancellationToken ct = default) => CallAsync("BlockAgent", r, BlockAgentResponse.Parser, ct);

    public Task<RevocationProgress> GetRevocationProgressAsync(string revocationId, CancellationToken ct = default) =>
        CallAsync("GetRevocationProgress", new GetRevocationProgressRequest { RevocationId = revocationId }, RevocationProgress.Parser, ct);

    public Task<UnblockAgentResponse> UnblockAsync(UnblockAgentRequest r, CancellationToken ct = default) => CallAsync("UnblockAgent", r, UnblockAgentResponse.Parser, ct);

    public Task<ListBlocksResponse> ListBlocksAsync(CancellationToken ct = default) => CallAsync("ListBlocks", new ListBlocksRequest(), ListBlocksResponse.Parser, ct);

    public Task<ListApprovalsResponse> ListApprovalsAsync(int max, CancellationToken ct = default) =>
        CallAsync("ListApprovals", new ListApprovalsRequest { Max = max }, ListApprovalsResponse.Parser, ct);

    public Task<ApprovalInfo> GetApprovalAsync(string id, CancellationToken ct = default) =>
        CallAsync("GetApproval", new GetApprovalRequest { ApprovalId = id }, ApprovalInfo.Parser, ct);

    public Task<ApprovalInfo> DecideApprovalAsync(string id, bool approve, string reason, CancellationToken ct = default) =>
        CallAsync("DecideApproval", new DecideApprovalRequest { ApprovalId = id, Approve = approve, Reason = reason }, ApprovalInfo.Parser, ct);

    public Task<TailAuditResponse> TailAuditAsync(int count, CancellationToken ct = default) =>
        CallAsync("TailAudit", new TailAuditRequest { Count = count }, TailAuditResponse.Parser, ct);

    public Task<VerifyAuditResponse> VerifyAuditAsync(CancellationToken ct = default) =>
        CallAsync("VerifyAudit", new VerifyAuditRequest(), VerifyAuditResponse.Parser, ct);

    public void Dispose() => _grpc.Dispose();
}
