namespace JitBroker.Core;

/// <summary>
/// One use of a credential as a tool reports it (ReportUses), unchecked: every field is the tool's word. The broker
/// records it only after <c>ReportUsesHandler</c> has tied it to a lease the tool may speak about.
/// </summary>
/// <param name="CredentialFingerprint"><c>sha256:</c> + lowercase hex of SHA-256 over the presented token (<see cref="Fingerprints.Of"/>).</param>
/// <param name="LeaseId">The token's <c>jti</c> when the tool could read it; "" otherwise.</param>
/// <param name="Outcome"><see cref="CredentialUseOutcomes.Allowed"/> or <see cref="CredentialUseOutcomes.Refused"/>.</param>
/// <param name="Reason">The tool's refusal code; "" for an allowed use.</param>
/// <param name="At">When the tool saw the call (its clock); null when the report had none.</param>
/// <param name="Audience">The resource the tool is: its configured audience.</param>
public sealed record CredentialUseReport(
    string CredentialFingerprint, string LeaseId, string Tool, string Action, string Resource, string Outcome, string Reason,
    DateTimeOffset? At, string Audience);

/// <summary>The two outcomes a tool reports.</summary>
public static class CredentialUseOutcomes
{
    public const string Allowed = "allowed";
    public const string Refused = "refused";
}

/// <summary>
/// What ReportUses did with a batch: how many uses became audit records, how many were rejected, and for each rejected
/// use one entry <c>&lt;index&gt;:&lt;reason code&gt;</c> (index into the request's uses, codes of <see cref="Reasons.ToolUse"/>).
/// </summary>
public sealed record ReportUsesResult(int Accepted, int Rejected, IReadOnlyList<string> RejectedReasons);
