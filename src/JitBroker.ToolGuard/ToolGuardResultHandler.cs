using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace JitBroker.ToolGuard;

/// <summary>
/// After authorization: a refusal of an intent requirement becomes 403 <c>insufficient_scope</c> naming the scopes the
/// endpoint needs; every judged call with a JitBroker token is reported (allowed or refused) with the tool, action and
/// resource the endpoint asked for. Everything else is the framework's default.
/// </summary>
internal sealed class ToolGuardResultHandler(UseRecorder uses, IOptions<ToolGuardOptions> options) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        var intents = policy.Requirements.OfType<IntentRequirement>().ToList();
        var state = ToolGuardRequestState.Of(context);
        var tool = intents.FirstOrDefault(r => r.Kind == IntentKind.Tool)?.Value;
        var action = intents.FirstOrDefault(r => r.Kind == IntentKind.Action)?.Value;
        var resourceTemplate = intents.FirstOrDefault(r => r.Kind == IntentKind.Resource)?.Value;
        var resource = resourceTemplate is null ? null : IntentRequirement.Substitute(resourceTemplate, context);
        if (authorizeResult.Succeeded)
        {
            uses.Allowed(context, tool, action, resource);
        }
        else if (authorizeResult.Forbidden && state.Token is not null
            && authorizeResult.AuthorizationFailure?.FailedRequirements.OfType<IntentRequirement>().ToList() is { Count: > 0 } failed)
        {
            var reason = failed.Min(r => r.Kind) switch
            {
                IntentKind.Tool => ToolGuardReasons.ToolNotGranted,
                IntentKind.Action => ToolGuardReasons.ActionNotGranted,
                _ when resourceTemplate is not null && resource is null => ToolGuardReasons.ResourceRouteValueMissing,
                _ => ToolGuardReasons.ResourceNotGranted,
            };
            uses.Refused(context, state, reason, tool, action, resource);
            var scope = string.Join(' ', intents.Select(r => r.Scope).Where(s => s.Length > 0).Distinct(StringComparer.Ordinal));
            await ToolGuardChallenge.WriteForbiddenAsync(context, state, options.Value, reason, scope, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        await _default.HandleAsync(next, context, policy, authorizeResult).ConfigureAwait(false);
    }
}
