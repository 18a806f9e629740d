using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace JitBroker.Server.Notifications;

/// <summary>The two bodies a webhook can get: a Slack incoming-webhook message, or the generic JSON event (docs/notifications.md).</summary>
public static class WebhookPayloads
{
    /// <summary>
    /// The generic event, shaped as Standard Webhooks recommends: <c>type</c>, <c>timestamp</c> (when the approval opened),
    /// <c>data</c>. Minified UTF-8, exactly the bytes that are signed and sent.
    /// </summary>
    public static byte[] Json(ApprovalNotice notice)
    {
        var a = notice.Approval;
        var r = a.Request;
        var data = new JsonObject
        {
            ["approval_id"] = a.ApprovalId,
            ["console_url"] = notice.ConsoleUrl.AbsoluteUri,
            ["agent_id"] = a.AgentId,
            ["owner"] = notice.Owner,
            ["task_id"] = r.TaskId,
            ["action"] = r.Intent.Action,
            ["purpose"] = r.Intent.Purpose,
            ["audience"] = r.Target,
            ["credential_kind"] = r.CredentialKind,
            ["tools"] = Array(r.Intent.Tools),
            ["resources"] = Array(r.Intent.Resources),
            ["ttl_seconds"] = r.RequestedTtl is { } ttl ? (long)ttl.TotalSeconds : null,
            ["rule_ids"] = Array(a.RuleIds),
            ["approvers"] = Array(a.Approvers),
            ["created_at"] = Time(a.CreatedAt),
            ["expires_at"] = Time(a.ExpiresAt),
        };
        var body = new JsonObject { ["type"] = ApprovalNotice.OpenedType, ["timestamp"] = Time(a.CreatedAt), ["data"] = data };
        return Encoding.UTF8.GetBytes(body.ToJsonString());
    }

    /// <summary>
    /// A Slack incoming-webhook message: <c>text</c> (the notification and fallback) and Block Kit <c>blocks</c> — a header,
    /// the request as fields, the purpose, and a link button to the console. Everything the agent chose is escaped
    /// (<c>&amp; &lt; &gt;</c>, as Slack requires), so a purpose cannot become a link or a mention.
    /// </summary>
    public static byte[] Slack(ApprovalNotice notice)
    {
        var a = notice.Approval;
        var r = a.Request;
        var link = notice.ConsoleUrl.AbsoluteUri;
        var fields = new JsonArray
        {
            Field("Agent", a.AgentId),
            Field("Owner", notice.Owner ?? "(none named)"),
            Field("Action", r.Intent.Action),
            Field("Audience", r.Target),
            Field("Task", r.TaskId),
            Field("Rule", string.Join(", ", a.RuleIds)),
            Field("Tools", r.Intent.Tools.Count == 0 ? "(any the rule allows)" : string.Join(", ", r.Intent.Tools)),
            Field("Resources", r.Intent.Resources.Count == 0 ? "(any the rule allows)" : string.Join(", ", r.Intent.Resources)),
            Field("Expires", Time(a.ExpiresAt)),
        };
        var blocks = new JsonArray
        {
            new JsonObject { ["type"] = "header", ["text"] = PlainText(Clip("Approval needed: " + r.Intent.Action, 150)) },
            new JsonObject { ["type"] = "section", ["text"] = Mrkdwn("*Purpose*\n" + Clip(Escape(r.Intent.Purpose), 2900)) },
            new JsonObject { ["type"] = "section", ["fields"] = fields },
            new JsonObject
            {
                ["type"] = "actions",
                ["elements"] = new JsonArray
                {
                    new JsonObject
                    {
                        ["type"] = "button", ["text"] = PlainText("Review in the console"), ["url"] = link, ["style"] = "primary",
                        ["action_id"] = "open-approval",
                    },
                },
            },
            new JsonObject { ["type"] = "context", ["elements"] = new JsonArray { Mrkdwn("Approval " + Escape(a.ApprovalId)) } },
        };
        var text = Clip($"Approval needed: {Escape(a.AgentId)} asks for {Escape(r.Intent.Action)} on {Escape(r.Target)}. Review: <{link}|{Escape(a.ApprovalId)}>", 3000);
        return Encoding.UTF8.GetBytes(new JsonObject { ["text"] = text, ["blocks"] = blocks }.ToJsonString());
    }

    /// <summary>
    /// The Standard Webhooks symmetric signature: <c>v1,</c> + base64(HMAC-SHA256(secret, <c>{id}.{timestamp}.{body}</c>)).
    /// </summary>
    public static string Signature(byte[] secret, string messageId, long timestamp, byte[] body)
    {
        var prefix = Encoding.UTF8.GetBytes($"{messageId}.{timestamp.ToString(CultureInfo.InvariantCulture)}.");
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content, prefix.Length);
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(secret, content));
    }

    /// <summary>Slack mrkdwn control characters (docs: "Escaping text"): nothing an agent wrote is read as a link, mention or markup.</summary>
    internal static string Escape(string text) =>
        text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);

    private static JsonObject Field(string label, string value) => Mrkdwn($"*{label}*\n{Clip(Escape(value), 1900)}");

    private static JsonObject Mrkdwn(string text) => new() { ["type"] = "mrkdwn", ["text"] = text };

    private static JsonObject PlainText(string text) => new() { ["type"] = "plain_text", ["text"] = text };

    private static string Clip(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";

    private static JsonArray Array(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode?)JsonValue.Create(v))]);

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
