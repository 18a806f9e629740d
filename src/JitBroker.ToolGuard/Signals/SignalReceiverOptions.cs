namespace JitBroker.ToolGuard;

/// <summary>
/// The tool as a Shared Signals receiver (docs/ssf.md, "ToolGuard as receiver"): it subscribes at the broker for its
/// audiences and takes RFC 8935 pushes of revocation events at <see cref="Path"/>. Off by default (the broker must list
/// the tool under <c>JitBroker:Ssf:Receivers</c>).
/// </summary>
public sealed class SignalReceiverOptions
{
    public bool Enabled { get; set; }

    /// <summary>Where the broker pushes SETs; the delivery URL registered is <c>PublicBaseUrl</c> + this path.</summary>
    public string Path { get; set; } = "/.well-known/jitbroker/ssf-events";

    /// <summary>The audiences this tool hears about (a SET's <c>aud</c> must be one); default: <c>Resource</c>.</summary>
    public List<string> Audiences { get; set; } = [];

    /// <summary>How old a SET's <c>iat</c> may be (the broker signs at delivery, so a fresh SET is seconds old even after an outage).</summary>
    public TimeSpan MaxSetAge { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Largest SET body accepted (a SET is well under 2 KiB).</summary>
    public int MaxSetBytes { get; set; } = 16 * 1024;

    /// <summary>SET ids remembered for de-duplication at most (bounded memory; entries live <see cref="MaxSetAge"/>).</summary>
    public int ReplayCacheSize { get; set; } = 100_000;

    /// <summary>How long a revocation heard by push is held: at least the longest task-token lifetime the broker grants.</summary>
    public TimeSpan RevocationRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Agents revoked by subject-level events remembered at most.</summary>
    public int MaxRevokedSubjects { get; set; } = 10_000;

    /// <summary>How often the stream is (re)registered and a verification event requested; push counts as healthy for twice this after a verification arrives.</summary>
    public TimeSpan VerificationInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The introspection cache while push is healthy (verified within two <see cref="VerificationInterval"/>s): a revocation
    /// arrives by push in milliseconds, so introspection is only the safety net for an event that never came. While push is
    /// not healthy <see cref="IntrospectionCheckOptions.CacheDuration"/> applies.
    /// </summary>
    public TimeSpan IntrospectionCacheWhilePushHealthy { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Overrides <c>{issuer origin}/.well-known/ssf-configuration{issuer path}</c>.</summary>
    public string? ConfigurationUrl { get; set; }
}
