using System.Buffers.Text;
using System.Text;
using JitBroker.Core;
using Microsoft.Extensions.Time.Testing;
using NUnit.Framework;

namespace JitBroker.Issuance.Tests;

/// <summary>
/// The exact bytes a task JWT's header and payload are minted as, for a fixed input and clock: relying parties and
/// fingerprints see these bytes, so a change in how they are written (buffers, encoders) must not change one of them.
/// </summary>
public sealed class MintedBytesGoldenTests
{
    [TestCase(SigningAlgorithms.Es256)]
    [TestCase(SigningAlgorithms.Rs256)]
    [TestCase(SigningAlgorithms.Ps256)]
    public async Task Header_and_payload_are_exactly_these_bytes_and_the_signature_verifies(string algorithm)
    {
        using var keys = new StaticSigningKeyProvider(SigningKey.Generate(algorithm));
        var issuer = TestData.NewIssuer(keys, new FakeTimeProvider(TestData.Start));
        var agent = TestData.Agent(TestData.CertThumbprint) with { ProofKeyThumbprint = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" };
        var request = new IssueRequest("lease_abcdefghijklmnopqrstuvwxyz", agent, TestData.TaskId,
            new Grant(JwtCredentialIssuer.KindName, TestData.Scope, TimeSpan.FromSeconds(300.9), new Dictionary<string, string>()),
            new DelegationChain("spiffe://example.org/agents/planner", ["spiffe://example.org/agents/reviewer", "spiffe://example.org/agents/planner"]));

        var token = (await issuer.IssueAsync(request)).Secret;
        var segments = token.Split('.');

        Assert.That(Encoding.UTF8.GetString(Base64Url.DecodeFromChars(segments[0])),
            Is.EqualTo($$"""{"alg":"{{algorithm}}","typ":"at+jwt","kid":"{{keys.Current.KeyId}}"}"""));
        Assert.That(Encoding.UTF8.GetString(Base64Url.DecodeFromChars(segments[1])), Is.EqualTo(
            """{"iss":"https://jitbroker.local","sub":"spiffe://example.org/agents/planner","aud":"https://tools.example/github","iat":1795262400,"nbf":1795262400,"exp":1795262700,"jti":"lease_abcdefghijklmnopqrstuvwxyz","client_id":"spiffe://example.org/agents/reviewer","task_id":"task-42","scope":"repo.read tool:github.search tool:github.read_file","action":"repo.read","tools":["github.search","github.read_file"],"resources":["repo:acme/widgets","docs/a path with spaces/ü+<&>.md"],"act":{"sub":"spiffe://example.org/agents/reviewer","act":{"sub":"spiffe://example.org/agents/planner"}},"cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I","x5t#S256":"q3NbKQqxd6xEQQXQYQZz4H1Z0JqzQZbq-xYwGRwuKyk"}}"""));
        Assert.That(segments[2], Has.Length.EqualTo(Base64Url.GetEncodedLength(keys.Current.SignatureSize)));
        Assert.That(keys.Current.Verify(Encoding.ASCII.GetBytes(segments[0] + "." + segments[1]), Base64Url.DecodeFromChars(segments[2])), Is.True);
    }
}
