namespace JitBroker.ToolGuard;

/// <summary>
/// How a resource server trusts JitBroker (docs/toolguard.md). <see cref="Issuer"/> and <see cref="Resource"/> are
/// required; everything else has a safe default. Validated at start-up.
/// </summary>
public sealed class ToolGuardOptions
{
    /// <summary>The broker's issuer URL (the <c>iss</c> of its tokens); metadata and JWKS are discovered from it.</summary>
    public string Issuer { get; set; } = "";

    /// <summary>This resource server's identifier: the only audience (<c>aud</c>) accepted, and RFC 9728's <c>resource</c>.</summary>
    public string Resource { get; set; } = "";

    /// <summary>
    /// The scheme and authority clients use to reach this server (e.g. behind a proxy); DPoP's <c>htu</c> and the
    /// <c>resource_metadata</c> URL are built from it, never from the Host header. Defaults to <see cref="Resource"/>'s
    /// scheme and authority.
    /// </summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>Tolerated clock difference for <c>exp</c>/<c>nbf</c>/<c>iat</c> (and DPoP proofs). Set explicitly: 30 s.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Allows http:// metadata only when the issuer is a loopback address (tests, a broker beside the tool).</summary>
    public bool AllowInsecureHttpForLoopback { get; set; }

    /// <summary>Refuse every token that is not DPoP-bound (published as <c>dpop_bound_access_tokens_required</c>).</summary>
    public bool DpopBoundTokensRequired { get; set; }

    /// <summary>How long after its <c>iat</c> a DPoP proof is accepted.</summary>
    public TimeSpan DpopMaxProofAge { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>DPoP proof ids remembered at most (bounded memory; when full and nothing expired, proofs are refused).</summary>
    public int DpopReplayCacheSize { get; set; } = 100_000;

    /// <summary>
    /// Where DPoP proof ids are remembered: <see cref="DpopReplayCacheMode.Memory"/> (this process) or
    /// <see cref="DpopReplayCacheMode.Distributed"/> (the registered <c>IDistributedCache</c>, shared by the tool's replicas).
    /// </summary>
    public DpopReplayCacheMode DpopReplayCache { get; set; } = DpopReplayCacheMode.Memory;

    /// <summary>The tools this server offers, published as <c>tool:&lt;name&gt;</c> in <c>scopes_supported</c>.</summary>
    public List<string> Tools { get; set; } = [];

    /// <summary>The actions this server serves, published in <c>scopes_supported</c>.</summary>
    public List<string> Actions { get; set; } = [];

    /// <summary>
    /// The tool's own workload identity: returns a JWT-SVID (or OIDC token) whose <c>aud</c> is the broker issuer. Used
    /// as <c>client_assertion</c> for introspection and as the bearer of use reports. Required when either is on.
    /// </summary>
    public Func<CancellationToken, Task<string>>? WorkloadToken { get; set; }

    /// <summary>Ask the broker about every token (RFC 7662) so that a revoked credential is refused now, not at exp.</summary>
    public IntrospectionCheckOptions Introspection { get; set; } = new();

    /// <summary>Report every allowed and refused call to the broker.</summary>
    public UseReportOptions UseReports { get; set; } = new();

    /// <summary>Receive the broker's revocation events by push (Shared Signals, docs/ssf.md).</summary>
    public SignalReceiverOptions Signals { get; set; } = new();
}

public enum DpopReplayCacheMode
{
    /// <summary>Per process: a proof replayed at another replica is not caught (docs/toolguard.md).</summary>
    Memory,

    /// <summary>The host's <c>IDistributedCache</c> (e.g. Redis), shared by every replica; one read and one write per proof.</summary>
    Distributed,
}

/// <summary>Revocation that reaches the tool: introspection after JWT validation.</summary>
public sealed class IntrospectionCheckOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// How long an answer is reused; 0 asks the broker on every call. Bounds how late a revocation is seen: 0.5 s keeps
    /// "refused within 1 s of EndTask, p99" with room for the introspection round trip and a loaded machine (at 1 s the
    /// worst case measured 1018 ms, docs/benchmarks.md), and costs the broker at most two introspections per second per
    /// token in use per tool replica.
    /// </summary>
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Answers cached at most; past that, calls go to the broker uncached.</summary>
    public int MaxCacheEntries { get; set; } = 10_000;

    /// <summary>How long to wait for the broker.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Accept a JWT-valid token when the broker cannot be asked. Off by default (fail closed); logged loudly.</summary>
    public bool FailOpen { get; set; }

    /// <summary>Overrides the endpoint read from the broker's metadata.</summary>
    public string? Endpoint { get; set; }
}

/// <summary>Use reports: batched, asynchronous, bounded, never on the call's path.</summary>
public sealed class UseReportOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>Reports buffered at most; past that the oldest is dropped and counted (<c>jitbroker.toolguard.uses_dropped</c>).</summary>
    public int BufferSize { get; set; } = 10_000;

    /// <summary>Reports sent in one request at most (the broker accepts 500).</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>A batch is sent when full or this long after its first report.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Overrides <c>{issuer}/tool-uses</c>.</summary>
    public string? Endpoint { get; set; }
}
