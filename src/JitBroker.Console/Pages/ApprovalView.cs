using JitBroker.Core;

namespace JitBroker.WebConsole.Pages;

/// <summary>What the approvals pages show of one approval: ids and the canonical request only, never a credential.</summary>
public sealed record ApprovalView(ApprovalRecord Record, TimeSpan TimeLeft)
{
    public string Id => Record.ApprovalId;

    public TaskIntent Intent => Record.Request.Intent;

    public string Rules => string.Join(", ", Record.RuleIds);

    public string Owner => Record.Owner ?? "(the rule names no owner)";

    public static ApprovalView Of(ApprovalRecord record, DateTimeOffset now) =>
        new(record, record.ExpiresAt > now ? record.ExpiresAt - now : TimeSpan.Zero);

    /// <summary>"14m 05s", "0s" once expired: approvals last minutes to hours.</summary>
    public string TimeLeftText => TimeLeft <= TimeSpan.Zero
        ? "expired"
        : TimeLeft.TotalHours >= 1 ? $"{(int)TimeLeft.TotalHours}h {TimeLeft.Minutes:00}m" : $"{TimeLeft.Minutes}m {TimeLeft.Seconds:00}s";
}

/// <summary>The canonical request as the approver reads it: exactly what the broker will grant once approved.</summary>
public static class CanonicalRequestJson
{
    public static string Of(ApprovalRecord record)
    {
        using var buffer = new MemoryStream();
        using (var json = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions { Indented = true }))
        {
            var r = record.Request;
            json.WriteStartObject();
            json.WriteString("agent_id", record.AgentId);
            json.WriteString("task_id", r.TaskId);
            json.WriteString("credential_kind", r.CredentialKind);
            json.WriteString("target", r.Target);
            if (r.RequestedTtl is { } ttl)
            {
                json.WriteNumber("ttl_seconds", (long)ttl.TotalSeconds);
            }

            json.WriteStartObject("intent");
            json.WriteString("action", r.Intent.Action);
            json.WriteString("purpose", r.Intent.Purpose);
            WriteArray(json, "tools", r.Intent.Tools);
            WriteArray(json, "resources", r.Intent.Resources);
            json.WriteStartObject("context");
            foreach (var (key, value) in r.Intent.Context.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                json.WriteString(key, value);
            }

            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteString("request_hash", record.RequestHash);
            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteArray(System.Text.Json.Utf8JsonWriter json, string name, IReadOnlyList<string> values)
    {
        json.WriteStartArray(name);
        foreach (var value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }
}
