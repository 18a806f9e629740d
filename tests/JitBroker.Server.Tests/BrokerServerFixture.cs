using JitBroker.Attestation;
using JitBroker.Cli;
using JitBroker.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace JitBroker.Server.Tests;

/// <summary>
/// A real broker: Kestrel on loopback ports chosen by the OS, embedded profile, a private data
/// directory, the shipped sample policy. Tests talk to it only over the network.
/// </summary>
public sealed class BrokerServerFixture : IAsyncDisposable
{
    public const string SupportBot = "spiffe://dev.jitbroker.local/agents/support-bot";
    public const string TicketsAudience = "https://tickets.internal.example";

    /// <summary>A tool configured as a resource server (every test broker): it may introspect any task credential.</summary>
    public const string ResourceServer = "spiffe://dev.jitbroker.local/tools/tickets";

    private readonly WebApplication _app;

    private BrokerServerFixture(WebApplication app, string dataDirectory)
    {
        _app = app;
        DataDirectory = dataDirectory;
        var endpoints = app.Services.GetRequiredService<BoundEndpoints>();
        GrpcUri = endpoints.GrpcUri;
        HttpUri = endpoints.HttpUri;
        AdminUri = endpoints.AdminUri;
        AdminByAgentUri[GrpcUri.ToString()] = AdminUri;
        Dev = DevTrustDomain.LoadOrCreate(Path.Combine(dataDirectory, "dev-trust-domain"), TimeProvider.System);
    }

    public string DataDirectory { get; }

    public Uri GrpcUri { get; }

    public Uri HttpUri { get; }

    /// <summary>The admin API's own listener (BrokerAdmin is not served on <see cref="GrpcUri"/>).</summary>
    public Uri AdminUri { get; }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Uri> AdminByAgentUri = new();

    /// <summary>The admin listener of the running test broker whose agent listener is <paramref name="grpc"/> (itself when unknown).</summary>
    public static Uri AdminFor(Uri grpc) => AdminByAgentUri.TryGetValue(grpc.ToString(), out var admin) ? admin : grpc;

    public DevTrustDomain Dev { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<BrokerServerFixture> StartAsync(IDictionary<string, string?>? overrides = null)
    {
        var dataDirectory = Directory.CreateTempSubdirectory("jitbroker-test-").FullName;
        var settings = new Dictionary<string, string?>
        {
            ["JitBroker:Profile"] = "embedded",
            ["JitBroker:DataDirectory"] = dataDirectory,
            ["JitBroker:Listen:Grpc"] = "127.0.0.1:0",
            ["JitBroker:Listen:Http"] = "127.0.0.1:0",
            ["JitBroker:Listen:Admin"] = "127.0.0.1:0",
            ["JitBroker:Introspection:ResourceServers:0"] = "spiffe://dev.jitbroker.local/tools/*",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            // null removes a default (for example the resource server every test broker has).
            if (value is null)
            {
                settings.Remove(key);
            }
            else
            {
                settings[key] = value;
            }
        }

        var app = BrokerHost.Build([], config => config.AddInMemoryCollection(settings));
        await app.StartAsync();
        return new BrokerServerFixture(app, dataDirectory);
    }

    public string Svid(string spiffeId = SupportBot, TimeSpan? ttl = null) =>
        Dev.MintSvid(spiffeId, "jitbroker", ttl ?? TimeSpan.FromMinutes(5));

    public BrokerClient Client() => new(GrpcUri);

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp directory left behind is not a test failure.
        }
    }
}
