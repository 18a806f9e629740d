using System.Security.Cryptography;
using JitBroker.Conformance;
using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Issuance.Tests.Conformance;

/// <summary>The built-in JWT issuer against the issuer contract, once per signing algorithm. Its only backend is the signing key.</summary>
[TestFixture(SigningAlgorithms.Es256)]
[TestFixture(SigningAlgorithms.Rs256)]
[TestFixture(SigningAlgorithms.Ps256)]
public sealed class JwtIssuerConformanceTests(string algorithm) : CredentialIssuerConformanceTests
{
    // An RSA key takes a while to generate: one per fixture, shared by its tests (the provider never disposes it).
    private readonly SigningKey _key = SigningKey.Generate(algorithm);
    private SwitchableKeyProvider? _keys;

    protected override IReadOnlyDictionary<string, string> Parameters { get; } = new Dictionary<string, string>();

    protected override bool RenewalReplacesTheSecret => true;

    protected override bool RevocationReachesTheBackend => false;

    protected override Task<ICredentialIssuer> CreateIssuerAsync()
    {
        _keys = new SwitchableKeyProvider(_key);
        return Task.FromResult<ICredentialIssuer>(new JwtCredentialIssuer(_keys, TestData.Options(), Clock));
    }

    [OneTimeTearDown]
    public void DisposeKey() => _key.Dispose();

    [Test]
    public async Task Tokens_are_signed_with_the_fixtures_algorithm_and_verify()
    {
        var issuer = (JwtCredentialIssuer)Issuer;
        var credential = await issuer.IssueAsync(TestData.Request());

        Assert.That(TestData.DecodeSegment(TestData.Segments(credential.Secret)[0])["alg"]!.GetValue<string>(), Is.EqualTo(algorithm));
        Assert.That(issuer.Verify(credential.Secret), Is.Not.Null);
    }

    protected override void BreakBackend() => _keys!.Broken = true;

    protected override void MendBackend() => _keys!.Broken = false;

    // A signed JWT has no backend state to lose.
    protected override Task ForgetAtBackendAsync(IssuedCredential credential) => Task.CompletedTask;

    /// <summary>A key store (an HSM, say) that can become unreachable: the key then fails to sign.</summary>
    private sealed class SwitchableKeyProvider(SigningKey key) : ISigningKeyProvider
    {
        public bool Broken { get; set; }

        public SigningKey Current => Broken ? throw new CryptographicException("The key store does not answer.") : key;

        public IReadOnlyList<SigningKey> VerificationKeys => [key];
    }
}
