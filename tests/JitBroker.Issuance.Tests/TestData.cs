using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using JitBroker.Core;
using Microsoft.Extensions.Time.Testing;

namespace JitBroker.Issuance.Tests;

/// <summary>Requests, identities, options and hand-made tokens shared by the issuance tests.</summary>
internal static class TestData
{
    public const string Issuer = "https://jitbroker.local";
    public const string AgentId = "spiffe://example.org/agents/reviewer";
    public const string TaskId = "task-42";
    public const string CertThumbprint = "q3NbKQqxd6xEQQXQYQZz4H1Z0JqzQZbq-xYwGRwuKyk";

    public static readonly DateTimeOffset Start = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);

    public static GrantedScope Scope { get; } = new(
        "https://tools.example/github",
        "repo.read",
        ["github.search", "github.read_file"],
        ["repo:acme/widgets", "docs/a path with spaces/ü+<&>.md"]);

    public static WorkloadIdentity Agent(string? certificateThumbprint = null) => new()
    {
        Id = AgentId,
        TrustDomain = "example.org",
        Method = certificateThumbprint is null ? "jwt-svid" : "x509-svid",
        EvidenceFingerprint = "sha256:00",
        CertificateThumbprint = certificateThumbprint,
    };

    public static IssueRequest Request(TimeSpan? ttl = null, WorkloadIdentity? agent = null, GrantedScope? scope = null) =>
        new(LeaseIds.New(), agent ?? Agent(), TaskId,
            new Grant(JwtCredentialIssuer.KindName, scope ?? Scope, ttl ?? TimeSpan.FromMinutes(5), new Dictionary<string, string>()));

    public static JwtIssuerOptions Options(string issuer = Issuer, string tokenType = "at+jwt") =>
        new() { Issuer = issuer, TokenType = tokenType };

    public static JwtCredentialIssuer NewIssuer(ISigningKeyProvider keys, TimeProvider? time = null, string issuer = Issuer, string tokenType = "at+jwt") =>
        new(keys, Options(issuer, tokenType), time ?? new FakeTimeProvider(Start));

    public static string[] Segments(string token) => token.Split('.');

    public static JsonObject DecodeSegment(string segment) =>
        JsonNode.Parse(Base64Url.DecodeFromChars(segment))!.AsObject();

    public static JsonDocument PayloadDocument(string token) =>
        JsonDocument.Parse(Base64Url.DecodeFromChars(Segments(token)[1]));

    /// <summary>Builds and ES256-signs a token from raw header and payload JSON text (no checks at all).</summary>
    public static string Forge(SigningKey key, string headerJson, string payloadJson)
    {
        var signingInput = Encode(headerJson) + "." + Encode(payloadJson);
        return signingInput + "." + Base64Url.EncodeToString(key.Sign(Encoding.ASCII.GetBytes(signingInput)));
    }

    public static string Encode(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));

    /// <summary>A token signed by <paramref name="key"/> over exactly these header and payload bytes (which need not be UTF-8).</summary>
    public static string ForgeBytes(SigningKey key, byte[] header, byte[] payload)
    {
        var signingInput = Base64Url.EncodeToString(header) + "." + Base64Url.EncodeToString(payload);
        return signingInput + "." + Base64Url.EncodeToString(key.Sign(Encoding.ASCII.GetBytes(signingInput)));
    }
}

/// <summary>A temporary directory removed after the test.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("jitbroker-issuance-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, string content, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
        var path = File(name);
        System.IO.File.WriteAllText(path, content);
        if (!OperatingSystem.IsWindows())
        {
            System.IO.File.SetUnixFileMode(path, mode);
        }

        return path;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
