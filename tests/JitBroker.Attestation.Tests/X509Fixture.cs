using System.Security.Cryptography.X509Certificates;
using JitBroker.Testing;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace JitBroker.Attestation.Tests;

/// <summary>
/// Two trust domains with their own CAs (PEM bundle files in a temp directory), a stranger CA that no
/// bundle holds, and a fake clock; leaves are built with <see cref="X509SvidFactory"/>.
/// </summary>
public sealed class X509Fixture : IDisposable
{
    public const string Prod = "prod.example.org";
    public const string Other = "other.example.org";
    public const string Workload = "spiffe://prod.example.org/agents/planner";

    public X509Fixture()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("jitbroker-x509-").FullName;
        ProdCa = X509SvidFactory.CreateCa(Prod, Now.AddDays(-10), Now.AddDays(365));
        OtherCa = X509SvidFactory.CreateCa(Other, Now.AddDays(-10), Now.AddDays(365));
        StrangerCa = X509SvidFactory.CreateCa(Prod, Now.AddDays(-10), Now.AddDays(365), subjectName: $"O={Prod}, CN=SPIFFE CA");
        Bundles[Prod] = X509SvidFactory.WritePemFile(Path.Combine(Directory, "prod.pem"), ProdCa);
        Bundles[Other] = X509SvidFactory.WritePemFile(Path.Combine(Directory, "other.pem"), OtherCa);
    }

    public string Directory { get; }

    public FakeTimeProvider Time { get; } = TestClock.Create();

    public DateTimeOffset Now => Time.GetUtcNow();

    public X509Certificate2 ProdCa { get; }

    public X509Certificate2 OtherCa { get; }

    /// <summary>Same subject name as the prod CA, different key: a look-alike no bundle trusts.</summary>
    public X509Certificate2 StrangerCa { get; }

    public Dictionary<string, string> Bundles { get; } = new(StringComparer.Ordinal);

    public X509SvidOptions Options() => new() { TrustBundles = new(Bundles) };

    public X509SvidAttestor Attestor(Action<X509SvidOptions>? configure = null)
    {
        var options = Options();
        configure?.Invoke(options);
        return new X509SvidAttestor(options, Time, NullLogger<X509SvidAttestor>.Instance);
    }

    /// <summary>A leaf valid from an hour ago to an hour from now, issued by <paramref name="ca"/> (default: the prod CA).</summary>
    public X509Certificate2 Leaf(string spiffeId = Workload, X509Certificate2? ca = null, Action<X509SvidFactory.LeafSpec>? customize = null,
        TimeSpan? notBefore = null, TimeSpan? notAfter = null) =>
        X509SvidFactory.CreateLeaf(ca ?? ProdCa, spiffeId, Now + (notBefore ?? TimeSpan.FromHours(-1)), Now + (notAfter ?? TimeSpan.FromHours(1)), customize);

    public void Dispose()
    {
        ProdCa.Dispose();
        OtherCa.Dispose();
        StrangerCa.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
