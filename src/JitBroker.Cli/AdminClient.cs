using Grpc.Core;
using Grpc.Net.Client;
using JitBroker.Protocol.V1;

namespace JitBroker.Cli;

/// <summary>
/// Typed client for <c>jitbroker.v1.BrokerAdmin</c> (the admin listener, not the agents'); the operator's
/// identity goes in the authorization metadata of every call. The broker accepts each admin token once, so the
/// identity is a source asked before every call; a fixed token serves exactly one call.
/// </summary>
public sealed class AdminClient : IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly BrokerAdmin.BrokerAdminClient _client;
    private readonly Func<CancellationToken, Task<string>> _identity;
    private readonly TimeSpan _timeout;

    /// <summary>A client for one call: the broker refuses <paramref name="identityToken"/> the second time.</summary>
    public AdminClient(Uri address, string identityToken, TimeSpan timeout, HttpMessageHandler? handler = null)
        : this(address, _ => Task.FromResult(identityToken), timeout, handler)
    {
    }

    /// <summary>A client that asks <paramref name="identity"/> for a fresh token before every call.</summary>
    public AdminClient(Uri address, Func<CancellationToken, Task<string>> identity, TimeSpan timeout, HttpMessageHandler? handler = null)
    {
        _channel = GrpcChannels.For(address, handler);
        _client = new BrokerAdmin.BrokerAdminClient(_channel);
        _identity = identity;
        _timeout = timeout;
    }

    public async Task<ListLeasesResponse> ListLeasesAsync(ListLeasesRequest r, CancellationToken ct = default) => await _client.ListLeasesAsync(r, await O(ct)).ResponseAsync;

    public async Task<RevokeLeasesResponse> RevokeAsync(RevokeLeasesRequest r, CancellationToken ct = default) => await _client.RevokeLeasesAsync(r, await O(ct)).ResponseAsync;

    public async Task<BlockAgentResponse> BlockAsync(BlockAgentRequest r, CancellationToken ct = default) => await _client.BlockAgentAsync(r, await O(ct)).ResponseAsync;

    public async Task<UnblockAgentResponse> UnblockAsync(UnblockAgentRequest r, CancellationToken ct = default) => await _client.UnblockAgentAsync(r, await O(ct)).ResponseAsync;

    public async Task<RevocationProgress> GetRevocationProgressAsync(string revocationId, CancellationToken ct = default) =>
        await _client.GetRevocationProgressAsync(new GetRevocationProgressRequest { RevocationId = revocationId }, await O(ct)).ResponseAsync;

    public async Task<ListReceiversResponse> ListReceiversAsync(CancellationToken ct = default) => await _client.ListReceiversAsync(new ListReceiversRequest(), await O(ct)).ResponseAsync;

    public async Task<ListBlocksResponse> ListBlocksAsync(CancellationToken ct = default) => await _client.ListBlocksAsync(new ListBlocksRequest(), await O(ct)).ResponseAsync;

    public async Task<ListApprovalsResponse> ListApprovalsAsync(int max, CancellationToken ct = default) =>
        await _client.ListApprovalsAsync(new ListApprovalsRequest { Max = max }, await O(ct)).ResponseAsync;

    public async Task<ApprovalInfo> GetApprovalAsync(string id, CancellationToken ct = default) =>
        await _client.GetApprovalAsync(new GetApprovalRequest { ApprovalId = id }, await O(ct)).ResponseAsync;

    public async Task<ApprovalInfo> DecideApprovalAsync(string id, bool approve, string reason, CancellationToken ct = default) =>
        await _client.DecideApprovalAsync(new DecideApprovalRequest { ApprovalId = id, Approve = approve, Reason = reason }, await O(ct)).ResponseAsync;

    public async Task<TailAuditResponse> TailAuditAsync(int count, CancellationToken ct = default) =>
        await _client.TailAuditAsync(new TailAuditRequest { Count = count }, await O(ct)).ResponseAsync;

    public async Task<VerifyAuditResponse> VerifyAuditAsync(CancellationToken ct = default) =>
        await _client.VerifyAuditAsync(new VerifyAuditRequest(), await O(ct)).ResponseAsync;

    public void Dispose() => _channel.Dispose();

    private async Task<CallOptions> O(CancellationToken ct) => BrokerClient.Options(await _identity(ct), _timeout, ct);
}
