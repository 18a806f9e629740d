namespace JitBroker.Core;

/// <summary>Whether a scope policy allows today still includes everything a lease was granted (renewal, re-evaluation after a reload).</summary>
public static class ScopeCoverage
{
    /// <summary>True when <paramref name="allowed"/> still includes everything <paramref name="held"/> grants.</summary>
    public static bool Covers(GrantedScope allowed, GrantedScope held) =>
        string.Equals(allowed.Audience, held.Audience, StringComparison.Ordinal) &&
        string.Equals(allowed.Action, held.Action, StringComparison.Ordinal) &&
        held.Tools.All(t => allowed.Tools.Contains(t, StringComparer.Ordinal)) &&
        held.Resources.All(r => allowed.Resources.Contains(r, StringComparer.Ordinal));
}
