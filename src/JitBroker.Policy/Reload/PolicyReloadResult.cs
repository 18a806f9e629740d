namespace JitBroker.Policy;

/// <summary>
/// The outcome of one reload attempt of a <see cref="ReloadingPolicyEngine"/>. <see cref="Version"/>,
/// <see cref="ContentHash"/>, <see cref="RuleCount"/> and <see cref="FileCount"/> always describe the policy
/// <em>in force after</em> the attempt — after a failure, the previous one.
/// </summary>
/// <param name="Succeeded">False when the files could not be read or did not validate; the old policy stays in force.</param>
/// <param name="Changed">True when a new policy was swapped in (its <see cref="Version"/> is one higher).</param>
/// <param name="Version">Monotonic version of the policy in force, 1 for the policy loaded at start.</param>
/// <param name="ContentHash"><c>sha256:…</c> of the policy in force (see <see cref="YamlPolicyEngine.ContentHash"/>).</param>
/// <param name="RuleCount">Rules in the policy in force.</param>
/// <param name="FileCount">Files of the policy in force.</param>
/// <param name="Error">What is wrong (<c>file:line:column: problem</c>) when <paramref name="Succeeded"/> is false.</param>
/// <param name="RejectedContentHash">Hash of the content that failed to load, when it could be read at all.</param>
/// <param name="At">When the attempt finished, by the engine's clock.</param>
public sealed record PolicyReloadResult(
    bool Succeeded,
    bool Changed,
    long Version,
    string ContentHash,
    int RuleCount,
    int FileCount,
    string? Error,
    string? RejectedContentHash,
    DateTimeOffset At);
