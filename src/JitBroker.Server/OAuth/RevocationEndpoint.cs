using JitBroker.Core.Handlers;

namespace JitBroker.Server.OAuth;

/// <summary>
/// RFC 7009 revocation: the agent holding a task token revokes it — its lease and everything delegated from it, now, as
/// EndTask would (<see cref="RevokeOwnCredentialHandler"/>). A token that is not ours, unknown or already inactive is
/// answered 200 like a revoked one (§2.2); <c>token_type_hint</c> is accepted and ignored (every token we issue is an access token).
/// </summary>
internal sealed class RevocationEndpoint(RevokeOwnCredentialHandler revoke, OAuthClientAuthentication clients, OAuthEndpointRunner runner)
{
    public Task HandleAsync(HttpContext http) => runner.RunAsync(http, callerIsClient: true, async cancellationToken =>
    {
        var form = await OAuthRequestReader.ReadFormAsync(http, cancellationToken).ConfigureAwait(false);
        var evidence = clients.Evidence(http, form, OAuthUrls.RevocationPath);
        var token = OAuthRequestReader.Required(form, "token");
        await revoke.HandleAsync(evidence, token, cancellationToken).ConfigureAwait(false);
        OAuthResponses.NoStore(http);
        http.Response.StatusCode = StatusCodes.Status200OK;
    });
}
