using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using JitBroker.Testing;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace JitBroker.Attestation.Tests;

/// <summary>
/// Trust domains, keys and bundle files in a temp directory, a fake clock, and a token builder.
/// <c>prod.example.org</c> trusts ES256/384/512 and RSA keys, plus entries that must be ignored (an
/// x509-svid key, a key without <c>use</c>); <c>other.example.org</c> has its own key and one whose kid
/// collides with prod's ES256 key; <c>empty.example.org</c> has no keys; <c>x509only.example.org</c> only
/// an x509-svid key.
/// </summary>
public sealed class SvidFixture : IDisposable
{
    public const string Audience = "spiffe://jitbroker.test/broker";
    public const string Prod = "prod.example.org";
    public const string Other = "other.example.org";
    public const string Empty = "empty.example.org";
    public const string X509Only = "x509only.example.org";
    public const string Subject = "spiffe://prod.example.org/agents/planner";

    public SvidFixture()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("jitbroker-attest-").FullName;
        WriteBundle(Prod, [Es256.Jwk(), Es384.Jwk(), Es521.Jwk(), Rsa.Jwk(), X509Signer.Jwk(use: "x509-svid"), NoUse.Jwk(use: null)]);
        WriteBundle(Other, [OtherKey.Jwk(), Collider.Jwk(kid: Es256.Kid)]);
        WriteBundle(Empty, []);
        WriteBundle(X509Only, [X509Signer.Jwk(use: "x509-svid")]);
    }

    public static TestKey Es256 { get; } = TestKey.Ec("prod-es256", ECCurve.NamedCurves.nistP256);
    public static TestKey Es384 { get; } = TestKey.Ec("prod-es384", ECCurve.NamedCurves.nistP384);
    public static TestKey Es521 { get; } = TestKey.Ec("prod-es512", ECCurve.NamedCurves.nistP521);
    public static TestKey Rsa { get; } = TestKey.Rsa("prod-rsa");
    public static TestKey X509Signer { get; } = TestKey.Ec("prod-x509", ECCurve.NamedCurves.nistP256);
    public static TestKey NoUse { get; } = TestKey.Ec("prod-nouse", ECCurve.NamedCurves.nistP256);
    public static TestKey OtherKey { get; } = TestKey.Ec("other-es256", ECCurve.NamedCurves.nistP256);
    public static TestKey Collider { get; } = TestKey.Ec("other-collider", ECCurve.NamedCurves.nistP256);
    public static TestKey Stranger { get; } = TestKey.Ec("stranger", ECCurve.NamedCurves.nistP256);

    public static IEnumerable<TestKey> AllKeys => [Es256, Es384, Es521, Rsa, X509Signer, NoUse, OtherKey, Collider, Stranger];

    public string Directory { get; }

    public FakeTimeProvider Time { get; } = TestClock.Create();

    public DateTimeOffset Now => Time.GetUtcNow();

    public long NowSeconds => Now.ToUnixTimeSeconds();

    public Dictionary<string, string> Bundles { get; } = new(StringComparer.Ordinal);

    public JwtSvidOptions Options() => new() { Audience = Audience, Leeway = TimeSpan.FromSeconds(30), TrustBundles = new(Bundles) };

    public JwtSvidAttestor Attestor(Action<JwtSvidOptions>? configure = null, ILogger<JwtSvidAttestor>? log = null)
    {
        var options = Options();
        configure?.Invoke(options);
        return new JwtSvidAttestor(options, Time, log ?? NullLogger<JwtSvidAttestor>.Instance);
    }

    public string WriteBundle(string trustDomain, IEnumerable<Dictionary<string, object?>> keys, string? rawJson = null)
    {
        var path = Path.Combine(Directory, trustDomain + ".bundle.json");
        var json = rawJson ?? JsonSerializer.Serialize(new Dictionary<string, object?> { ["keys"] = keys.ToArray(), ["spiffe_refresh_hint"] = 300 });
        var existed = File.Exists(path);
        var before = existed ? File.GetLastWriteTimeUtc(path) : default;
        File.WriteAllText(path, json);
        if (existed)
        {
            // File systems with coarse timestamps must still show a change to the reloader.
            File.SetLastWriteTimeUtc(path, before.AddSeconds(1));
        }

        Bundles[trustDomain] = path;
        return path;
    }

    public Dictionary<string, object?> Header(TestKey key, string alg) => new() { ["alg"] = alg, ["kid"] = key.Kid, ["typ"] = "JWT" };

    public Dictionary<string, object?> Claims(string subject = Subject) => new()
    {
        ["sub"] = subject,
        ["aud"] = Audience,
        ["exp"] = NowSeconds + 300,
        ["iat"] = NowSeconds - 10,
        ["jti"] = "jti-" + Guid.NewGuid().ToString("N"),
        ["iss"] = "https://spire.prod.example.org",
    };

    /// <summary>Signs whatever header and claims it is given: the attestor, not the builder, decides what is valid.</summary>
    public static string Sign(TestKey key, string alg, object header, object claims)
    {
        var input = TestKey.B64Json(header) + "." + TestKey.B64Json(claims);
        return input + "." + TestKey.B64(key.Sign(alg, Encoding.ASCII.GetBytes(input)));
    }

    public string Token(TestKey? key = null, string alg = "ES256", Action<Dictionary<string, object?>>? header = null,
        Action<Dictionary<string, object?>>? claims = null, string subject = Subject)
    {
        key ??= Es256;
        var h = Header(key, alg);
        header?.Invoke(h);
        var c = Claims(subject);
        claims?.Invoke(c);
        return Sign(key, alg, h, c);
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
