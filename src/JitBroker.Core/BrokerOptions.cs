namespace JitBroker.Core;

/// <summary>Limits the broker enforces whatever the policy says.</summary>
public sealed class BrokerOptions
{
    /// <summary>Where the host binds these options; every validation message names its key under this path.</summary>
    public const string SectionPath = "JitBroker:Broker";

    /// <summary>Global maximum credential lifetime; policy rules can only lower it.</summary>
    public TimeSpan MaxTtl { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Lifetime granted when neither the request nor the rule names one.</summary>
    public TimeSpan DefaultTtl { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Shortest lifetime worth minting.</summary>
    public TimeSpan MinTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a revocation claim holds before another replica may take the lease over.</summary>
    public TimeSpan RevocationClaimTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan RetryInitialDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How a repeated identity token is treated on RequestCredential (see docs/attestation.md).</summary>
    public ReplayMode ReplayMode { get; set; } = ReplayMode.Bound;

    /// <summary>How long past the token's own expiry the replay cache remembers it (the attestation leeway).</summary>
    public TimeSpan ReplaySlack { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest an agent may block in RequestCredential waiting for an approval decision.</summary>
    public TimeSpan MaxApprovalWait { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Issuer kind used when a request names none.</summary>
    public string DefaultCredentialKind { get; set; } = "jwt";

    /// <summary>Per-agent quotas and their audit window (<see cref="QuotaOptions"/>).</summary>
    public QuotaOptions Quotas { get; set; } = new();

    public IEnumerable<string> Validate()
    {
        if (MinTtl <= TimeSpan.Zero)
        {
            yield return $"{SectionPath}:MinTtl must be positive.";
        }

        if (MaxTtl < MinTtl)
        {
            yield return $"{SectionPath}:MaxTtl must be at least {SectionPath}:MinTtl.";
        }

        if (MaxTtl > TimeSpan.FromHours(12))
        {
            yield return $"{SectionPath}:MaxTtl above 12h defeats just-in-time credentials.";
        }

        if (DefaultTtl < MinTtl || DefaultTtl > MaxTtl)
        {
            yield return $"{SectionPath}:DefaultTtl must lie between {SectionPath}:MinTtl and {SectionPath}:MaxTtl.";
        }

        if (RevocationClaimTimeout < TimeSpan.FromSeconds(1))
        {
            yield return $"{SectionPath}:RevocationClaimTimeout must be at least 1s.";
        }

        if (RetryInitialDelay <= TimeSpan.Zero || RetryMaxDelay < RetryInitialDelay)
        {
            yield return $"{SectionPath}:RetryInitialDelay must be positive and at most {SectionPath}:RetryMaxDelay.";
        }

        if (ReplaySlack < TimeSpan.Zero || ReplaySlack > TimeSpan.FromMinutes(5))
        {
            yield return $"{SectionPath}:ReplaySlack must be between 0 and 5 minutes.";
        }

        if (MaxApprovalWait < TimeSpan.Zero || MaxApprovalWait > TimeSpan.FromMinutes(30))
        {
            yield return $"{SectionPath}:MaxApprovalWait must be between 0 and 30 minutes.";
        }

        if (!Enum.IsDefined(ReplayMode))
        {
            yield return $"{SectionPath}:ReplayMode must be Strict or Bound.";
        }

        if (string.IsNullOrWhiteSpace(DefaultCredentialKind))
        {
            yield return $"{SectionPath}:DefaultCredentialKind must name an issuer kind.";
        }

        foreach (var problem in Quotas?.Validate() ?? [$"{SectionPath}:Quotas must not be null."])
        {
            yield return problem;
        }
    }
}

/// <summary>Replay protection for identity tokens presented to RequestCredential.</summary>
public enum ReplayMode
{
    /// <summary>
    /// A token is bound to the first task it is used for: further RequestCredential calls with it are accepted
    /// only for that same task (retries, one lease per tool); any other task is a replay. Fits SPIRE agents,
    /// which hand out one cached JWT-SVID repeatedly for its lifetime.
    /// </summary>
    Bound,

    /// <summary>Every token is good for exactly one RequestCredential; callers mint a fresh token per call.</summary>
    Strict,
}
