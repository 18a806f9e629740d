using System.Security.Cryptography.X509Certificates;
using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Attestation.Tests.Conformance;

/// <summary>JWT-SVIDs verified against a SPIFFE bundle file.</summary>
[TestFixture]
public sealed class JwtSvidAttestorConformanceTests : WorkloadAttestorConformanceTests
{
    private SvidFixture _f = null!;
    private JwtSvidAttestor? _attestor;
    private X509Fixture? _x509;
    private X509Certificate2? _leaf;

    protected override string Workload => SvidFixture.Subject;

    protected override string OtherWorkload => "spiffe://prod.example.org/nobody/knows-me";

    protected override Task<IWorkloadAttestor> CreateAttestorAsync()
    {
        _f = new SvidFixture();
        _attestor = _f.Attestor();
        return Task.FromResult<IWorkloadAttestor>(_attestor);
    }

    protected override Task DestroyAsync()
    {
        _attestor?.Dispose();
        _leaf?.Dispose();
        _x509?.Dispose();
        (_leaf, _x509) = (null, null);
        _f.Dispose();
        return Task.CompletedTask;
    }

    protected override AttestationEvidence Valid(string workload) => new(_f.Token(subject: workload));

    protected override string IdOf(string workload) => workload;

    protected override AttestationEvidence Expired() =>
        new(_f.Token(claims: c => { c["exp"] = _f.NowSeconds - 3600; c["iat"] = _f.NowSeconds - 3900; }));

    // Signed by a key no bundle holds, under the kid of one that is.
    protected override AttestationEvidence Untrusted() => new(_f.Token(SvidFixture.Stranger, header: h => h["kid"] = SvidFixture.Es256.Kid));

    protected override AttestationEvidence Malformed() => new(_f.Token()[..^12] + "!!not-base64");

    protected override AttestationEvidence Empty() => new("");

    protected override AttestationEvidence Ambiguous()
    {
        _x509 ??= new X509Fixture();
        _leaf ??= _x509.Leaf();
        return new AttestationEvidence(_f.Token(), _leaf);
    }
}

/// <summary>Kubernetes-style OIDC tokens from an issuer served over HTTP (discovery and JWKS).</summary>
[TestFixture]
public sealed class OidcAttestorConformanceTests : WorkloadAttestorConformanceTests
{
    private OidcFixture _f = null!;
    private X509Fixture? _x509;
    private X509Certificate2? _leaf;

    protected override string Workload => OidcFixture.Subject;

    protected override string OtherWorkload => "system:serviceaccount:elsewhere:nobody";

    protected override async Task<IWorkloadAttestor> CreateAttestorAsync()
    {
        _f = await OidcFixture.StartAsync();
        return await _f.AttestorAsync();
    }

    protected override async Task DestroyAsync()
    {
        _leaf?.Dispose();
        _x509?.Dispose();
        (_leaf, _x509) = (null, null);
        await _f.DisposeAsync();
    }

    // The kubernetes.io claim must agree with sub (system:serviceaccount:<namespace>:<name>), or the token is refused.
    protected override AttestationEvidence Valid(string workload) => new(_f.Token(claims: c =>
    {
        var parts = workload.Split(':');
        var kubernetes = (Dictionary<string, object?>)c["kubernetes.io"]!;
        kubernetes["namespace"] = parts[2];
        ((Dictionary<string, object?>)kubernetes["serviceaccount"]!)["name"] = parts[3];
        c["sub"] = workload;
    }));

    protected override string IdOf(string workload) => _f.Issuer + OidcAttestor.IdSeparator + workload;

    protected override AttestationEvidence Expired() =>
        new(_f.Token(claims: c => { c["exp"] = _f.NowSeconds - 3600; c["iat"] = _f.NowSeconds - 3900; c["nbf"] = _f.NowSeconds - 3900; }));

    protected override AttestationEvidence Untrusted() => new(_f.Token(OidcFixture.RotatedKey, header: h => h["kid"] = OidcFixture.ClusterKey.Kid));

    protected override AttestationEvidence Malformed() => new(_f.Token()[..^12] + "!!not-base64");

    protected override AttestationEvidence Empty() => new("");

    protected override AttestationEvidence Ambiguous()
    {
        _x509 ??= new X509Fixture();
        _leaf ??= _x509.Leaf();
        return new AttestationEvidence(_f.Token(), _leaf);
    }
}

/// <summary>X.509-SVIDs presented as the TLS client certificate, chained to a PEM bundle per trust domain.</summary>
[TestFixture]
public sealed class X509SvidAttestorConformanceTests : WorkloadAttestorConformanceTests
{
    private readonly List<X509Certificate2> _certificates = [];
    private X509Fixture _f = null!;

    protected override string Workload => X509Fixture.Workload;

    protected override string OtherWorkload => "spiffe://prod.example.org/nobody/knows-me";

    protected override Task<IWorkloadAttestor> CreateAttestorAsync()
    {
        _f = new X509Fixture();
        return Task.FromResult<IWorkloadAttestor>(_f.Attestor());
    }

    protected override Task DestroyAsync()
    {
        _certificates.ForEach(c => c.Dispose());
        _certificates.Clear();
        _f.Dispose();
        return Task.CompletedTask;
    }

    protected override AttestationEvidence Valid(string workload) => new(null, Keep(_f.Leaf(workload)));

    protected override string IdOf(string workload) => workload;

    protected override AttestationEvidence Expired() =>
        new(null, Keep(_f.Leaf(notBefore: TimeSpan.FromDays(-2), notAfter: TimeSpan.FromDays(-1))));

    protected override AttestationEvidence Untrusted() => new(null, Keep(_f.Leaf(ca: _f.StrangerCa)));

    // A certificate that is no SVID: no URI SAN naming a SPIFFE ID.
    protected override AttestationEvidence Malformed() => new(null, Keep(_f.Leaf(customize: s => s.UriSans.Clear())));

    protected override AttestationEvidence Empty() => new(null);

    protected override AttestationEvidence Ambiguous() => new("header.payload.signature", Keep(_f.Leaf()));

    private X509Certificate2 Keep(X509Certificate2 certificate)
    {
        _certificates.Add(certificate);
        return certificate;
    }
}
