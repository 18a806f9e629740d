using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using JitBroker.Server.Tests;
using JitBroker.Testing;

namespace JitBroker.Console.Tests.InBrowser;

/// <summary>
/// A broker whose admin listener speaks HTTPS (a self-signed test certificate for 127.0.0.1) with the console signing
/// people in at a real OpenID provider (<see cref="IdentityProvider"/>). The admin port is chosen before either starts:
/// the provider must know the console's redirect URI, the console must know the provider's issuer.
/// </summary>
public sealed class ConsoleSite : IAsyncDisposable
{
    private readonly string _pki;

    private ConsoleSite(IdentityProvider idp, BrokerServerFixture broker, string pki, X509Certificate2 certificate, string clientSecret)
    {
        Idp = idp;
        ClientSecret = clientSecret;
        Broker = broker;
        _pki = pki;
        Certificate = certificate;
    }

    public IdentityProvider Idp { get; }

    /// <summary>The console's client secret at the provider (the broker reads it from a file).</summary>
    public string ClientSecret { get; }

    public BrokerServerFixture Broker { get; }

    /// <summary>The admin listener's server certificate (for an HttpClient that trusts exactly it).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary><c>https://127.0.0.1:adminport</c>, the console's public base URL.</summary>
    public Uri BaseUrl => Broker.AdminUri;

    public Uri Page(string path) => new(BaseUrl, path);

    /// <summary>
    /// An HTTP client outside the browser that trusts exactly the console's certificate, follows no redirects and sends
    /// <paramref name="cookies"/> (for example the browser's, copied: a request forged with a person's session).
    /// </summary>
    public HttpClient Http(System.Net.CookieContainer? cookies = null)
    {
        var handler = Pinned();
        handler.AllowAutoRedirect = false;
        handler.UseCookies = true;
        handler.CookieContainer = cookies ?? new System.Net.CookieContainer();
        return new HttpClient(handler) { BaseAddress = BaseUrl };
    }

    /// <summary>An admin API client (gRPC over the same TLS listener) acting as alice of the dev trust domain, an admin.</summary>
    public JitBroker.Cli.AdminClient Admin() =>
        new(BaseUrl, _ => Task.FromResult(E2E.AdminSvid(Broker)), TimeSpan.FromSeconds(30), Pinned());

    private SocketsHttpHandler Pinned() => new()
    {
        SslOptions = new System.Net.Security.SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, presented, _, _) =>
                presented is not null && presented.GetRawCertData().AsSpan().SequenceEqual(Certificate.RawData),
        },
    };

    /// <summary>
    /// Starts the provider and the broker. <paramref name="console"/> false starts the broker without the console
    /// (the provider still redirects to where the console would be); <paramref name="settings"/> are added to the
    /// broker's configuration, built from the provider's issuer.
    /// </summary>
    public static async Task<ConsoleSite> StartAsync(Func<IdentityProvider, IDictionary<string, string?>>? settings = null, bool console = true)
    {
        var pki = Directory.CreateTempSubdirectory("jitbroker-console-").FullName;
        var certificate = ServerCertificate(TimeProvider.System.GetUtcNow());
        await File.WriteAllTextAsync(Path.Combine(pki, "admin.crt"), certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(Path.Combine(pki, "admin.key"), certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        await File.WriteAllTextAsync(Path.Combine(pki, "client-secret"), secret);

        var adminPort = LoopbackPorts.Free(1)[0];
        var baseUrl = $"https://127.0.0.1:{adminPort}";
        var idp = await IdentityProvider.StartAsync(new Uri(baseUrl + "/console/signin-oidc"), secret);
        try
        {
            var overrides = new Dictionary<string, string?>
            {
                ["JitBroker:Listen:Admin"] = $"127.0.0.1:{adminPort}",
                ["JitBroker:Listen:AdminCertificatePath"] = Path.Combine(pki, "admin.crt"),
                ["JitBroker:Listen:AdminKeyPath"] = Path.Combine(pki, "admin.key"),
                ["JitBroker:Admin:Principals:0"] = E2E.AdminPattern, // the tests' own admin API calls (E2E.Admin)
            };
            if (console)
            {
                overrides["JitBroker:Console:Enabled"] = "true";
                overrides["JitBroker:Console:PublicBaseUrl"] = baseUrl;
                overrides["JitBroker:Console:Oidc:Authority"] = idp.IssuerName;
                overrides["JitBroker:Console:Oidc:ClientId"] = IdentityProvider.ClientId;
                overrides["JitBroker:Console:Oidc:ClientSecretFile"] = Path.Combine(pki, "client-secret");
                overrides["JitBroker:Console:Oidc:RequireHttpsMetadata"] = "false";
                overrides["JitBroker:Console:Oidc:Scopes:0"] = "profile";
                overrides["JitBroker:Console:Oidc:Scopes:1"] = "email";
                overrides["JitBroker:Console:Oidc:Scopes:2"] = "groups";
                overrides["JitBroker:Console:Approvers:0:Group"] = "approvers";
                overrides["JitBroker:Console:Operators:0:Group"] = "operators";
            }

            foreach (var (key, value) in settings?.Invoke(idp) ?? new Dictionary<string, string?>())
            {
                overrides[key] = value;
            }

            var broker = await BrokerServerFixture.StartAsync(overrides);
            return new ConsoleSite(idp, broker, pki, certificate, secret);
        }
        catch
        {
            await idp.DisposeAsync();
            throw;
        }
    }

    /// <summary>A self-signed TLS server certificate for 127.0.0.1 (the browser ignores certificate errors; HTTP clients pin it).</summary>
    private static X509Certificate2 ServerCertificate(DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=jitbroker-console-test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(X509SvidFactory.ServerAuthOid)], false));
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddHours(1));
    }

    public async ValueTask DisposeAsync()
    {
        await Broker.DisposeAsync();
        await Idp.DisposeAsync();
        Certificate.Dispose();
        Directory.Delete(_pki, recursive: true);
    }
}
