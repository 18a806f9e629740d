using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace JitBroker.ToolGuard;

/// <summary>Turns a judged request into a <see cref="CredentialUse"/> for the reporter; once per request, never throws.</summary>
internal sealed class UseRecorder(IUseReporter reporter, IOptions<ToolGuardOptions> options, TimeProvider time)
{
    public void Allowed(HttpContext http, string? tool, string? action, string? resource) =>
        Record(http, ToolGuardRequestState.Of(http), CredentialUse.AllowedOutcome, null, tool, action, resource);

    public void Refused(HttpContext http, ToolGuardRequestState state, string reason, string? tool = null, string? action = null, string? resource = null) =>
        Record(http, state, CredentialUse.RefusedOutcome, reason, tool, action, resource);

    // The broker records a reason for refusals only: an allowed use carries none.
    private void Record(HttpContext http, ToolGuardRequestState state, string outcome, string? reason, string? tool, string? action, string? resource)
    {
        // Without a token there is no credential to account for (a bare probe, or the 401 that starts discovery).
        if (state.Token is null || state.Reported)
        {
            return;
        }

        state.Reported = true;
        reporter.Report(new CredentialUse
        {
            CredentialFingerprint = CredentialUse.Fingerprint(state.Token),
            LeaseId = state.Jti,
            // A refusal before the tool is known (authentication, initialize, tools/list) is reported against the request path,
            // so a revoked credential tried again still reaches the audit chain.
            Tool = tool ?? http.Request.Path.Value,
            Action = action ?? (http.User.Identity?.IsAuthenticated == true ? ToolGuardClaims.Action(http.User) : null),
            Resource = resource,
            Outcome = outcome,
            Reason = reason,
            At = CredentialUse.Rfc3339(time.GetUtcNow()),
            Audience = options.Value.Resource,
        });
    }
}
