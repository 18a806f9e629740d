using Moq;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>
/// The attestor seam's boundary: whatever an attestor returns is checked before it becomes an identity, so an
/// attestor bug (an empty id, a missing fingerprint, another method's name) never reaches policy. Moq stands in for
/// the attestor because what it returns is exactly the thing under test; the real attestors' own behaviour is
/// the conformance suite in JitBroker.Attestation.Tests.
/// </summary>
[TestFixture]
public sealed class AttestorBoundaryTests
{
    private static WorkloadIdentity Sound() => new()
    {
        Id = "spiffe://example.org/agents/a",
        TrustDomain = "example.org",
        Method = "test",
        EvidenceFingerprint = "sha256:00",
    };

    private static AttestorRegistry RegistryReturning(WorkloadIdentity identity)
    {
        var attestor = new Mock<IWorkloadAttestor>();
        attestor.SetupGet(a => a.Method).Returns("test");
        attestor.Setup(a => a.Accepts(It.IsAny<AttestationEvidence>())).Returns(true);
        attestor.Setup(a => a.AttestAsync(It.IsAny<AttestationEvidence>(), It.IsAny<CancellationToken>())).ReturnsAsync(identity);
        return new AttestorRegistry([attestor.Object]);
    }

    [Test]
    public async Task A_complete_identity_passes_the_boundary()
    {
        var identity = await RegistryReturning(Sound()).AttestAsync(new AttestationEvidence("token"));

        Assert.That(identity.Id, Is.EqualTo("spiffe://example.org/agents/a"));
    }

    [TestCase("id")]
    [TestCase("trust-domain")]
    [TestCase("method")]
    [TestCase("fingerprint")]
    public void An_identity_with_an_empty_field_is_stopped_at_the_boundary(string blank)
    {
        var identity = blank switch
        {
            "id" => Sound() with { Id = " " },
            "trust-domain" => Sound() with { TrustDomain = "" },
            "method" => Sound() with { Method = "" },
            _ => Sound() with { EvidenceFingerprint = "" },
        };

        Assert.ThrowsAsync<InvalidOperationException>(async () => await RegistryReturning(identity).AttestAsync(new AttestationEvidence("token")));
    }

    [Test]
    public void An_identity_claiming_another_attestation_method_is_stopped_at_the_boundary()
    {
        var registry = RegistryReturning(Sound() with { Method = "x509-svid" });

        Assert.ThrowsAsync<InvalidOperationException>(async () => await registry.AttestAsync(new AttestationEvidence("token")));
    }
}
