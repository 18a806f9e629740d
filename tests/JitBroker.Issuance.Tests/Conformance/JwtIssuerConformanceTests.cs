using System.Security.Cryptography;
using JitBroker.Conformance;
using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Issuance.Tests.Conformance;

/// <summary>The built-in JWT issuer against the issuer contract. Its only backend is the signing key.</summary>
[TestFixture]
public sealed class JwtIssuerConformanceTests : CredentialIssuerConformanceTests
{
    private SwitchableKeyProvider? _keys;

    protected override IReadOnlyDictionary<string, string> Parameters { get; } = new Dictionary<string, string>();

    protected override bool RenewalReplacesTheSecret => true;

    protected override bool RevocationReachesTheBackend => false;

    protected override Task<ICredentialIssuer> CreateIssuerAsync()
    {
        _keys = new SwitchableKeyProvider();
        return Task.FromResult<ICredentialIssuer>(new JwtCredentialIssuer(_keys, TestData.Options(), Clock));
    }

    protected override Task DestroyIssuerAsync()
    {
        _keys?.Dispose();
        return Task.CompletedTask;
    }

    protected override void BreakBackend() => _keys!.Broken = true;

    protected override void MendBackend() => _keys!.Broken = false;

    // A signed JWT has no backend state to lose.
    protected override Task ForgetAtBackendAsync(IssuedCredential credential) => Task.CompletedTask;

    /// <summary>A key store (an HSM, say) that can become unreachable: the key then fails to sign.</summary>
    private sealed class SwitchableKeyProvider : ISigningKeyProvider, IDisposable
    {
        private readonly SigningKey _key = SigningKey.Generate();

        public bool Broken { get; set; }

        public SigningKey Current => Broken ? throw new CryptographicException("The key store does not answer.") : _key;

        public IReadOnlyList<SigningKey> VerificationKeys => [_key];

        public void Dispose() => _key.Dispose();
    }
}
