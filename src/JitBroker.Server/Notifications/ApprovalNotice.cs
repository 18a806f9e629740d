using JitBroker.Core;

namespace JitBroker.Server.Notifications;

/// <summary>
/// What a notification says about an opened approval: the canonical request the approver will decide on, who is
/// accountable, and where to decide. Built from the approval record, which holds no token or secret.
/// </summary>
public sealed record ApprovalNotice
{
    public const string OpenedType = "approval.opened";

    /// <summary>The Standard Webhooks <c>webhook-id</c>: one per event, the same on every retry (receivers dedupe by it).</summary>
    public required string MessageId { get; init; }

    public required ApprovalRecord Approval { get; init; }

    public string? Owner { get; init; }

    /// <summary>The console page of this approval: <c>{ConsoleBaseUrl}/console/approvals/{approvalId}</c>.</summary>
    public required Uri ConsoleUrl { get; init; }

    public static ApprovalNotice Opened(ApprovalRecord approval, string? owner, string consoleBaseUrl) => new()
    {
        // An approval opens once, so its id names the event; no '.' (the signed content is id.timestamp.body).
        MessageId = "msg_" + approval.ApprovalId,
        Approval = approval,
        Owner = owner,
        ConsoleUrl = DeepLink(consoleBaseUrl, approval.ApprovalId),
    };

    /// <summary>The console's approval page; the id is escaped, though the broker's ids are <c>apr_</c> + hex.</summary>
    public static Uri DeepLink(string consoleBaseUrl, string approvalId) =>
        new(consoleBaseUrl.TrimEnd('/') + "/console/approvals/" + Uri.EscapeDataString(approvalId));
}
