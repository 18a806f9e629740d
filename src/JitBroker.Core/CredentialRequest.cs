namespace JitBroker.Core;

/// <summary>What the agent declares it is about to do.</summary>
public sealed record TaskIntent(
    string Action,
    string Purpose,
    IReadOnlyList<string> Tools,
    IReadOnlyList<string> Resources,
    IReadOnlyDictionary<string, string> Context);

/// <summary>A request for a task-scoped credential, after transport decoding, before any decision.</summary>
public sealed record CredentialRequest(
    string TaskId,
    TaskIntent Intent,
    string CredentialKind,
    string Target,
    TimeSpan? RequestedTtl);

/// <summary>The scope a credential actually grants: always a subset of what was requested.</summary>
public sealed record GrantedScope(
    string Audience,
    string Action,
    IReadOnlyList<string> Tools,
    IReadOnlyList<string> Resources);
