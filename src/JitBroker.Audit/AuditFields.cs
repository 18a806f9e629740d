namespace JitBroker.Audit;

/// <summary>
/// Member names of a stored audit record (snake_case, stable: verifiers and SIEM rules key on them).
/// See docs/audit.md for the record format.
/// </summary>
public static class AuditFields
{
    public const string Seq = "seq";
    public const string Time = "time";
    public const string Type = "type";
    public const string AgentId = "agent_id";
    public const string TaskId = "task_id";
    public const string Intent = "intent";
    public const string Decision = "decision";
    public const string RuleIds = "rule_ids";
    public const string LeaseId = "lease_id";
    public const string ParentLeaseId = "parent_lease_id";
    public const string CredentialFingerprint = "credential_fingerprint";
    public const string Reason = "reason";
    public const string Detail = "detail";
    public const string Actor = "actor";
    public const string Owner = "owner";
    public const string Use = "use";
    public const string PrevHash = "prev_hash";
    public const string Hash = "hash";

    /// <summary>Members of <see cref="Intent"/>.</summary>
    public const string IntentAction = "action";
    public const string IntentPurpose = "purpose";
    public const string IntentTools = "tools";
    public const string IntentResources = "resources";
    public const string IntentContext = "context";

    /// <summary>Members of <see cref="Use"/> (credential.used / credential.use_refused).</summary>
    public const string UseTool = "tool";
    public const string UseAction = "action";
    public const string UseResource = "resource";
    public const string UseOutcome = "outcome";
    public const string UseAt = "at";
    public const string UseAudience = "audience";
    public const string UseLate = "late";

    /// <summary>Members of a checkpoint record (type <see cref="AuditRecordTypes.Checkpoint"/>).</summary>
    public const string HeadSeq = "head_seq";
    public const string HeadHash = "head_hash";
    public const string KeyId = "kid";
    public const string Algorithm = "alg";
    public const string Signature = "sig";
}

/// <summary>Record types the log itself writes, next to the event types of <c>AuditEventTypes</c>.</summary>
public static class AuditRecordTypes
{
    /// <summary>A signed statement of the chain head; callers cannot append an event of this type.</summary>
    public const string Checkpoint = "audit.checkpoint";
}
