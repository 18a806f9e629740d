namespace JitBroker.OAuth;

/// <summary>
/// The declared intent carried by a token request (<see cref="TaskIntentParameters.Parse"/>): what the agent says it is
/// about to do. Facts as declared, not a decision; policy decides. <see cref="TaskId"/> is null when the client gave
/// none (the broker generates one); <see cref="Audience"/> is the single RFC 8707 resource, exactly as sent.
/// </summary>
public sealed record DeclaredTask(
    string? TaskId,
    string Action,
    string? Purpose,
    IReadOnlyList<string> Tools,
    IReadOnlyList<string> Resources,
    IReadOnlyDictionary<string, string> Context,
    string Audience,
    TimeSpan? RequestedTtl);
