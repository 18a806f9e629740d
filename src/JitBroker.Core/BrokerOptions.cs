namespace JitBroker.Core;

/// <summary>Limits the broker enforces whatever the policy says.</summary>
public sealed class BrokerOptions
{
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

    /// <summary>Issuer kind used when a request names none.</summary>
    public string DefaultCredentialKind { get; set; } = "jwt";

    public IEnumerable<string> Validate()
    {
        if (MinTtl <= TimeSpan.Zero)
        {
            yield return "Broker:MinTtl must be positive.";
        }

        if (MaxTtl < MinTtl)
        {
            yield return "Broker:MaxTtl must be at least Broker:MinTtl.";
        }

        if (MaxTtl > TimeSpan.FromHours(12))
        {
            yield return "Broker:MaxTtl above 12h defeats just-in-time credentials.";
        }

        if (DefaultTtl < MinTtl || DefaultTtl > MaxTtl)
        {
            yield return "Broker:DefaultTtl must lie between Broker:MinTtl and Broker:MaxTtl.";
        }

        if (RevocationClaimTimeout < TimeSpan.FromSeconds(1))
        {
            yield return "Broker:RevocationClaimTimeout must be at least 1s.";
        }

        if (RetryInitialDelay <= TimeSpan.Zero || RetryMaxDelay < RetryInitialDelay)
        {
            yield return "Broker:RetryInitialDelay must be positive and at most Broker:RetryMaxDelay.";
        }

        if (string.IsNullOrWhiteSpace(DefaultCredentialKind))
        {
            yield return "Broker:DefaultCredentialKind must name an issuer kind.";
        }
    }
}
