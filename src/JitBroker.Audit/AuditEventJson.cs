using System.Text.Json.Nodes;
using JitBroker.Core;

namespace JitBroker.Audit;

/// <summary>Maps an <see cref="AuditEvent"/> to record members (snake_case, null members omitted, strings scrubbed).</summary>
internal static class AuditEventJson
{
    public static JsonObject ToBody(AuditEvent e)
    {
        var body = new JsonObject { [AuditFields.Type] = e.Type };
        Add(body, AuditFields.AgentId, e.AgentId);
        Add(body, AuditFields.TaskId, e.TaskId);
        if (e.Intent is { } intent)
        {
            var context = new JsonObject();
            foreach (var (key, value) in intent.Context.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                context[SecretScrubber.Scrub(key)] = SecretScrubber.Scrub(value);
            }

            body[AuditFields.Intent] = new JsonObject
            {
                [AuditFields.IntentAction] = SecretScrubber.Scrub(intent.Action),
                [AuditFields.IntentPurpose] = SecretScrubber.Scrub(intent.Purpose),
                [AuditFields.IntentTools] = Strings(intent.Tools),
                [AuditFields.IntentResources] = Strings(intent.Resources),
                [AuditFields.IntentContext] = context,
            };
        }

        Add(body, AuditFields.Decision, e.Decision);
        body[AuditFields.RuleIds] = Strings(e.RuleIds);
        Add(body, AuditFields.LeaseId, e.LeaseId);
        Add(body, AuditFields.ParentLeaseId, e.ParentLeaseId);
        if (e.CredentialFingerprint is { } fingerprint)
        {
            body[AuditFields.CredentialFingerprint] = SecretScrubber.Fingerprint(fingerprint);
        }

        Add(body, AuditFields.Reason, e.Reason);
        Add(body, AuditFields.Detail, e.Detail);
        Add(body, AuditFields.Actor, e.Actor);
        Add(body, AuditFields.Owner, e.Owner);
        if (e.Use is { } use)
        {
            body[AuditFields.Use] = new JsonObject
            {
                [AuditFields.UseTool] = SecretScrubber.Scrub(use.Tool),
                [AuditFields.UseAction] = SecretScrubber.Scrub(use.ToolAction),
                [AuditFields.UseResource] = SecretScrubber.Scrub(use.Resource),
                [AuditFields.UseOutcome] = use.Outcome,
                [AuditFields.UseAt] = AuditRecord.FormatTime(use.At),
                [AuditFields.UseAudience] = SecretScrubber.Scrub(use.Audience),
                [AuditFields.UseLate] = use.Late,
            };
        }

        return body;
    }

    private static void Add(JsonObject body, string name, string? value)
    {
        if (value is not null)
        {
            body[name] = SecretScrubber.Scrub(value);
        }
    }

    private static JsonArray Strings(IEnumerable<string> values) => [.. values.Select(v => (JsonNode?)SecretScrubber.Scrub(v))];
}
