using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using Grpc.Core;
using JitBroker.Attestation;
using JitBroker.Core;
using JitBroker.Issuance;
using JitBroker.Leases.Redis;
using JitBroker.Protocol.V1;
using JitBroker.Redis;
using JitBroker.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using CoreScope = JitBroker.Core.GrantedScope;
using WireScope = JitBroker.Protocol.V1.GrantedScope;

namespace JitBroker.PerfHarness;

/// <summary>
/// The floor behind gRPC (issue 22, items 1 and 2): the broker's agent service on the broker's transport (Kestrel h2c on
/// loopback, grpc-dotnet) whose RequestCredential does exactly the floor's three operations with the floor's components —
/// verify the bearer JWT-SVID, sign the task JWT, write the lease — and nothing else (no policy, replay, quota, audit,
/// telemetry or state tag). What it reaches is what any broker on this stack could reach at most on this machine; the
/// floor in process has no transport and no load generator. Runs as its own process, started by
/// <see cref="GrpcFloorProcess"/> with the harness's own executable and the broker's runtime settings.
/// </summary>
internal static class GrpcFloorServer
{
    public const string Flag = "--serve-grpc-floor";

    /// <summary><c>--serve-grpc-floor PORT REDIS DEVDIR KEYDIR CACHE(on|off)</c>; prints "ready" once it listens.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        if (args is not [Flag, var portText, var redisEndpoint, var devDirectory, var keyDirectory, var cache and ("on" or "off")]
            || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is 0 or > 65535)
        {
            await Console.Error.WriteLineAsync($"usage: {Flag} PORT REDIS DEVDIR KEYDIR on|off").ConfigureAwait(false);
            return 2;
        }

        await using var redis = new RedisConnection(new RedisOptions { Endpoint = redisEndpoint, CommandTimeout = TimeSpan.FromSeconds(30) });
        await redis.ConnectAsync().ConfigureAwait(false);
        using var dev = DevTrustDomain.LoadOrCreate(devDirectory, TimeProvider.System);
        using var keys = new FileSigningKeyProvider(new SigningKeyOptions { DataDirectory = keyDirectory }, NullLogger<FileSigningKeyProvider>.Instance);
        using var attestor = Floor.DevAttestor(dev, cache == "on");

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(System.Net.IPAddress.Loopback, port, o => o.Protocols = HttpProtocols.Http2);
        });
        // As the broker's GrpcSetup: no detailed errors, no catch-all routes for unknown services.
        builder.Services.AddGrpc(o => { o.EnableDetailedErrors = false; o.IgnoreUnknownServices = true; });
        builder.Services.AddSingleton(new FloorOperations(attestor, Floor.Issuer(keys), new RedisLeaseStore(redis, "perf-grpc-floor:")));
        await using var app = builder.Build();
        app.MapGrpcService<FloorCredentialBroker>();
        await app.StartAsync().ConfigureAwait(false);
        Console.WriteLine(FormattableString.Invariant($"ready (server GC {GCSettings.IsServerGC}, verified-token cache {cache})"));
        await app.WaitForShutdownAsync().ConfigureAwait(false);
        return 0;
    }
}

/// <summary>The floor's components, built once per server.</summary>
internal sealed record FloorOperations(JwtSvidAttestor Attestor, JwtCredentialIssuer Issuer, RedisLeaseStore Store);

/// <summary>The broker's agent service doing the floor's three operations for RequestCredential; every other method unimplemented.</summary>
internal sealed class FloorCredentialBroker(FloorOperations floor) : CredentialBroker.CredentialBrokerBase
{
    private const string BearerPrefix = "Bearer ";

    public override async Task<RequestCredentialResponse> RequestCredential(RequestCredentialRequest request, ServerCallContext context)
    {
        var authorization = context.RequestHeaders.GetValue("authorization");
        if (authorization is null || !authorization.StartsWith(BearerPrefix, StringComparison.Ordinal))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "no bearer token"));
        }

        var agent = await floor.Attestor.AttestAsync(new AttestationEvidence(authorization[BearerPrefix.Length..])).ConfigureAwait(false);
        var leaseId = LeaseIds.New(LeaseIds.PlacementFor(agent.Id, request.TaskId));
        var credential = await floor.Issuer.IssueAsync(new IssueRequest(leaseId, agent, request.TaskId, Floor.Grant)).ConfigureAwait(false);
        await floor.Store.PutAsync(new Lease
        {
            LeaseId = leaseId, TaskId = request.TaskId, AgentId = agent.Id, IssuerKind = credential.Kind, BackendHandle = credential.BackendHandle,
            Scope = Floor.Grant.Scope, IssuedAt = credential.IssuedAt, ExpiresAt = credential.ExpiresAt, DueAt = credential.ExpiresAt,
            RuleIds = ["support-bot-tickets"], CredentialFingerprint = credential.Fingerprint, AgentFacts = agent.Facts,
        }, context.CancellationToken).ConfigureAwait(false);
        return Reply(leaseId, credential);
    }

    private static RequestCredentialResponse Reply(string leaseId, IssuedCredential credential)
    {
        CoreScope granted = Floor.Grant.Scope;
        var scope = new WireScope { Audience = granted.Audience, Action = granted.Action };
        scope.Tools.Add(granted.Tools);
        scope.Resources.Add(granted.Resources);
        var reply = new RequestCredentialResponse
        {
            LeaseId = leaseId,
            Credential = new Credential { Kind = credential.Kind, Token = credential.Secret },
            Scope = scope,
            GrantedTtl = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(credential.ExpiresAt - credential.IssuedAt),
            ExpiresAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(credential.ExpiresAt),
        };
        reply.RuleIds.Add("support-bot-tickets");
        return reply;
    }
}

/// <summary>A <see cref="GrpcFloorServer"/> process: the harness's own executable, with the broker's runtime settings.</summary>
internal sealed class GrpcFloorProcess : IAsyncDisposable
{
    private readonly Process _process;

    private GrpcFloorProcess(Process process, Uri grpc) => (_process, GrpcUri) = (process, grpc);

    public Uri GrpcUri { get; }

    public int Pid => _process.Id;

    public static async Task<GrpcFloorProcess> StartAsync(string redisEndpoint, string devDirectory, string scratchDirectory, bool cache)
    {
        var port = LoopbackPorts.Free(1)[0];
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[]
                 {
                     typeof(GrpcFloorServer).Assembly.Location, GrpcFloorServer.Flag, port.ToString(CultureInfo.InvariantCulture), redisEndpoint,
                     devDirectory, Path.Combine(scratchDirectory, "grpc-floor-keys"), cache ? "on" : "off",
                 })
        {
            info.ArgumentList.Add(arg);
        }

        // The broker runs with server GC and without dynamic PGO (JitBroker.Server.csproj); the harness does not.
        info.Environment["DOTNET_gcServer"] = "1";
        info.Environment["DOTNET_TieredPGO"] = "0";
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the gRPC floor server.");
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine("grpc-floor: " + e.Data);
            }
        };
        process.BeginErrorReadLine();
        // Its one line of standard output: the server logs nothing (providers cleared), so the pipe never fills after it.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var line = await process.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false);
        if (line is null || !line.StartsWith("ready", StringComparison.Ordinal))
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw new InvalidOperationException($"The gRPC floor server did not start: {line ?? "no output"}.");
        }

        Console.WriteLine("  gRPC floor server " + line);
        return new GrpcFloorProcess(process, new Uri($"http://127.0.0.1:{port}"));
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }

        _process.Dispose();
    }
}
