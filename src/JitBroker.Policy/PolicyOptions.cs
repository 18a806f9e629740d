namespace JitBroker.Policy;

/// <summary>Where the broker reads policy and how it follows changes. Validated when policy is registered.</summary>
public sealed class PolicyOptions
{
    /// <summary>Where the host binds these options; every validation message names its key under this path.</summary>
    public const string SectionPath = "JitBroker:Policy";

    /// <summary>Shortest poll interval accepted: each poll reads every policy file.</summary>
    public static readonly TimeSpan MinReloadInterval = TimeSpan.FromSeconds(1);

    /// <summary>Longest poll interval accepted: an edit must take effect within minutes, not hours.</summary>
    public static readonly TimeSpan MaxReloadInterval = TimeSpan.FromHours(1);

    /// <summary>A policy file, or a directory whose <c>*.yaml</c>/<c>*.yml</c> files form one policy (docs/policy.md).</summary>
    public string Path { get; set; } = string.Empty;

    /// <summary>
    /// How often the files are polled for changes. <see cref="TimeSpan.Zero"/> disables polling (a directory can
    /// then still be reloaded through <see cref="ReloadingPolicyEngine.ReloadNowAsync"/>).
    /// </summary>
    public TimeSpan ReloadInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// After a reload, what happens to active leases the new policy would no longer grant: true revokes them,
    /// false only flags them (audit and metric). Read by the broker's reload handler, not by the policy engine.
    /// </summary>
    public bool RevokeOnReload { get; set; } = true;

    /// <summary>
    /// Refuse a policy (at start-up and at every reload) with an allow rule that names no <c>owner</c>. The broker turns it on
    /// in the production profile; it may be set for any profile.
    /// </summary>
    public bool RequireOwners { get; set; }

    /// <summary>True when the registered engine follows changes (a directory, or a positive reload interval).</summary>
    public bool UsesReloadingEngine => Directory.Exists(Path) || ReloadInterval > TimeSpan.Zero;

    /// <summary>Returns one message per invalid setting; empty when the options are usable.</summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(Path))
        {
            yield return $"{SectionPath}:Path must name a policy file or directory.";
        }
        else if (!File.Exists(Path) && !Directory.Exists(Path))
        {
            yield return $"{SectionPath}:Path '{Path}' is neither a file nor a directory.";
        }

        if (ReloadInterval != TimeSpan.Zero && (ReloadInterval < MinReloadInterval || ReloadInterval > MaxReloadInterval))
        {
            yield return $"{SectionPath}:ReloadInterval must be 0 (no polling) or between 1 second and 1 hour.";
        }
    }
}
