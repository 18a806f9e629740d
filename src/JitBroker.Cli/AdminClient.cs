using Grpc.Core;
using Grpc.Net.Client;
using JitBroker.Protocol.V1;

namespace JitBroker.Cli;

/// <summary>
/// Typed client for <c>jitbroker.v1.BrokerAdmin</c> (the admin listener, not the agents'); the operator's
/// identity goes in the authorization metadata of every call.
/// </summary>
public sealed class AdminClient : IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly BrokerAdmin.BrokerAdminClient _client;
    private readonly string _identity;
    private readonly TimeSpan _timeout;

    public AdminClient(Uri address, string identityToken, TimeSpan timeout, HttpMessageHandler? handler = null)
    {
        _channel = GrpcChannels.For(address, handler);
        _client = new BrokerAdmin.BrokerAdminClient(_channel);
        _identity = identityToken;
        _timeout = timeout;
    }

    public Task<ListLeasesResponse> ListLeasesAsync(ListLeasesRequest r, CancellationToken ct = default) => _client.ListLeasesAsync(r, O(ct)).ResponseAsync;

    public Task<RevokeLeasesResponse> RevokeAsync(RevokeLeasesRequest r, CancellationToken ct = default) => _client.RevokeLeasesAsync(r, O(ct)).ResponseAsync;

    public Task<BlockAgentResponse> BlockAsync(BlockAgentRequest r, CancellationToken ct = default) => _client.BlockAgentAsync(r, O(ct)).ResponseAsync;

    public Task<UnblockAgentResponse> UnblockAsync(UnblockAgentRequest r, CancellationToken ct = default) => _client.UnblockAgentAsync(r, O(ct)).ResponseAsync;

    public Task<RevocationProgress> GetRevocationProgressAsync(string revocationId, CancellationToken ct = default) =>
        _client.GetRevocationProgressAsync(new GetRevocationProgressRequest { RevocationId = revocationId }, O(ct)).ResponseAsync;

    public Task<ListBlocksResponse> ListBlocksAsync(CancellationToken ct = default) => _client.ListBlocksAsync(new ListBlocksRequest(), O(ct)).ResponseAsync;

    public Task<ListApprovalsResponse> ListApprovalsAsync(int max, CancellationToken ct = default) =>
        _client.ListApprovalsAsync(new ListApprovalsRequest { Max = max }, O(ct)).ResponseAsync;

    public Task<ApprovalInfo> GetApprovalAsync(string id, CancellationToken ct = default) =>
        _client.GetApprovalAsync(new GetApprovalRequest { ApprovalId = id }, O(ct)).ResponseAsync;

    public Task<ApprovalInfo> DecideApprovalAsync(string id, bool approve, string reason, CancellationToken ct = default) =>
        _client.DecideApprovalAsync(new DecideApprovalRequest { ApprovalId = id, Approve = approve, Reason = reason }, O(ct)).ResponseAsync;

    public Task<TailAuditResponse> TailAuditAsync(int count, CancellationToken ct = default) =>
        _client.TailAuditAsync(new TailAuditRequest { Count = count }, O(ct)).ResponseAsync;

    public Task<VerifyAuditResponse> VerifyAuditAsync(CancellationToken ct = default) =>
        _client.VerifyAuditAsync(new VerifyAuditRequest(), O(ct)).ResponseAsync;

    public void Dispose() => _channel.Dispose();

    private CallOptions O(CancellationToken ct) => BrokerClient.Options(_identity, _timeout, ct);
}
