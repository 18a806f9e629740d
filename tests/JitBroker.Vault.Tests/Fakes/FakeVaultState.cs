using System.Security.Cryptography;

namespace JitBroker.Vault.Tests.Fakes;

/// <summary>A token the fake Vault knows. TTLs are in seconds and are not aged: tests revoke tokens explicitly.</summary>
public sealed class FakeToken
{
    public required string Id { get; init; }
    public required string Accessor { get; init; }
    public string? ParentId { get; init; }
    public List<string> Policies { get; init; } = [];
    public Dictionary<string, string> Meta { get; init; } = [];
    public string DisplayName { get; init; } = "token";
    public long Ttl { get; set; }
    public long ExplicitMaxTtl { get; init; }
    public bool Renewable { get; init; }
    public bool Orphan { get; init; }
    public int NumUses { get; init; }
    public bool Revoked { get; set; }
}

/// <summary>A dynamic-secret lease the fake Vault handed out.</summary>
public sealed class FakeLease
{
    public required string LeaseId { get; init; }
    public required string Path { get; init; }
    public long Duration { get; set; }
    public bool Renewable { get; init; }
    public long MaxTtl { get; init; }
    public bool Revoked { get; set; }
    public string? CreatedByToken { get; init; }
}

/// <summary>A dynamic-secret "engine" mounted at a read path (for example database/creds/readonly).</summary>
public sealed record FakeEngine(long LeaseDuration, bool Renewable, long MaxTtl, bool Leased = true);

/// <summary>A token role (auth/token/roles/:name); empty <see cref="AllowedPolicies"/> = Vault's "subset of the caller's".</summary>
public sealed record FakeTokenRole(bool Orphan = false, string TokenType = "service", long MaxTtl = 0)
{
    public IReadOnlyList<string> AllowedPolicies { get; init; } = [];
}

/// <summary>One request the fake received, as the tests inspect it (headers lower-cased).</summary>
public sealed record RecordedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public string? Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var v) ? v : null;
}

/// <summary>What to do to the next request whose path starts with <see cref="PathPrefix"/>.</summary>
public sealed record Fault(string PathPrefix, FaultKind Kind, int Status = 0, string[]? Errors = null, TimeSpan Delay = default, byte[]? Body = null);

public enum FaultKind
{
    /// <summary>Answer with <see cref="Fault.Status"/> and <c>{"errors": Errors}</c>.</summary>
    Status,
    /// <summary>Hold the request for <see cref="Fault.Delay"/> (past the client's timeout), then drop it.</summary>
    Hang,
    /// <summary>Abort the connection without an answer (a reset).</summary>
    Reset,
    /// <summary>Answer 200 with a body that is not JSON (a proxy's page), containing a fake secret.</summary>
    Garbage,
    /// <summary>Answer 200 (application/json) with exactly the bytes of <see cref="Fault.Body"/>.</summary>
    Body,
}

public static class FakeIds
{
    private const string Base62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    public static string Random(int length) => RandomNumberGenerator.GetString(Base62, length);

    public static string Token() => "hvs." + Random(24);
}
