using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace JitBroker.Vault.Tests.Fakes;

/// <summary>
/// A real Kestrel server on 127.0.0.1 that answers the Vault v1 endpoints the broker uses the way Vault's API docs
/// (and, where they are silent, Vault's source) describe: envelopes, <c>{"errors":[…]}</c>, 200/202/204/400/403/
/// 404/429/5xx. It checks <c>X-Vault-Token</c> (known, not revoked), <c>X-Vault-Namespace</c> (when one is
/// expected) and records every request. Faults (status, hang, reset) are queued per path prefix.
/// </summary>
public sealed partial class FakeVault : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly List<Fault> _faults = [];

    private FakeVault(WebApplication app) => _app = app;

    public Uri Address { get; private set; } = null!;

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>All tokens by id, including the broker's own and those it created.</summary>
    public ConcurrentDictionary<string, FakeToken> Tokens { get; } = new();

    public ConcurrentDictionary<string, FakeLease> Leases { get; } = new();

    public ConcurrentDictionary<string, FakeEngine> Engines { get; } = new();

    public ConcurrentDictionary<string, FakeTokenRole> TokenRoles { get; } = new();

    /// <summary>Paths (prefixes) the broker's tokens are denied: 403 "permission denied".</summary>
    public ConcurrentBag<string> DeniedPaths { get; } = [];

    /// <summary>ACL policy documents by name. With <see cref="EnforcePolicies"/>, a non-root token may do only what its policies grant.</summary>
    public ConcurrentDictionary<string, FakeVaultPolicy> PolicyDocuments { get; } = new() { ["default"] = FakeVaultPolicy.Default };

    /// <summary>Enforce <see cref="PolicyDocuments"/> on every token without the root policy (403 "permission denied" otherwise).</summary>
    public bool EnforcePolicies { get; set; }

    /// <summary>Requests refused by policy enforcement, as "METHOD path".</summary>
    public ConcurrentQueue<string> PolicyRefusals { get; } = new();

    /// <summary>Policies that exist; token create warns about the others, as Vault does.</summary>
    public HashSet<string> KnownPolicies { get; } = ["default", "task-read", "task-write"];

    public string RootToken { get; } = FakeIds.Token();

    public string AppRoleId { get; } = "role-" + FakeIds.Random(8);

    public string AppRoleSecretId { get; set; } = "secret-" + FakeIds.Random(16);

    public string KubernetesRole { get; set; } = "jitbroker";

    public string JwtRole { get; set; } = "jitbroker";

    /// <summary>Service-account JWTs the kubernetes/jwt mounts accept.</summary>
    public ConcurrentBag<string> AcceptedJwts { get; } = [];

    /// <summary>TTL (s) of tokens issued by the login endpoints, and their max TTL (0 = no max).</summary>
    public long LoginTokenTtl { get; set; } = 3600;

    public long LoginTokenMaxTtl { get; set; }

    /// <summary>The token mount's max TTL (s): created tokens asking for more get this, with a warning.</summary>
    public long TokenMountMaxTtl { get; set; } = 32 * 24 * 3600;

    public string? ExpectedNamespace { get; set; }

    public bool Sealed { get; set; }

    /// <summary>Behave like a Vault (or proxy) that drops <c>sync</c>: revocations are queued and answered 202.</summary>
    public bool IgnoreRevokeSync { get; set; }

    public static async Task<FakeVault> StartAsync(X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (certificate is not null)
            {
                listen.UseHttps(certificate);
            }
        }));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var vault = new FakeVault(app);
        vault.Tokens[vault.RootToken] = new FakeToken { Id = vault.RootToken, Accessor = FakeIds.Random(24), Policies = ["root"], Orphan = true };
        app.Run(vault.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        vault.Address = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        return vault;
    }

    public void Enqueue(Fault fault)
    {
        lock (_gate)
        {
            _faults.Add(fault);
        }
    }

    public void AddEngine(string path, long leaseDuration, bool renewable = true, long maxTtl = 86400, bool leased = true) =>
        Engines[path] = new FakeEngine(leaseDuration, renewable, maxTtl, leased);

    public FakeToken? TokenByAccessor(string accessor) => Tokens.Values.FirstOrDefault(t => t.Accessor == accessor);

    /// <summary>Revokes a token and, as Vault does, its children and the leases it created.</summary>
    public void Revoke(FakeToken token)
    {
        token.Revoked = true;
        foreach (var child in Tokens.Values.Where(t => t.ParentId == token.Id && !t.Revoked))
        {
            Revoke(child);
        }

        foreach (var lease in Leases.Values.Where(l => l.CreatedByToken == token.Id))
        {
            lease.Revoked = true;
        }
    }

    public IReadOnlyList<RecordedRequest> RequestsTo(string path) => [.. Requests.Where(r => r.Path == path)];

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        var path = context.Request.Path.Value!.StartsWith("/v1/", StringComparison.Ordinal) ? context.Request.Path.Value[4..] : context.Request.Path.Value!;
        Requests.Enqueue(new RecordedRequest(context.Request.Method, path,
            context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()), body));

        Fault? fault;
        lock (_gate)
        {
            fault = _faults.FirstOrDefault(f => path.StartsWith(f.PathPrefix, StringComparison.Ordinal));
            if (fault is not null)
            {
                _faults.Remove(fault);
            }
        }

        switch (fault?.Kind)
        {
            case FaultKind.Reset:
                context.Abort();
                return;
            case FaultKind.Hang:
                try
                {
                    await Task.Delay(fault.Delay, context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                }

                context.Abort();
                return;
            case FaultKind.Garbage:
                context.Response.StatusCode = 200;
                await context.Response.WriteAsync("<html>oops password=hunter2</html>");
                return;
            case FaultKind.Status:
                await Error(context, fault.Status, fault.Errors ?? []);
                return;
            case FaultKind.Body:
                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/json";
                await context.Response.Body.WriteAsync(fault.Body);
                return;
        }

        if (Sealed)
        {
            // A sealed Vault answers 503 to everything, sys/health included (with its JSON body).
            await (path == "sys/health"
                ? Json(context, 503, new { initialized = true, @sealed = true, standby = false })
                : Error(context, 503, "Vault is sealed"));
            return;
        }

        using var json = body.Length > 0 ? JsonDocument.Parse(body) : null;
        await RouteAsync(context, path, json?.RootElement);
    }

    private static Task Error(HttpContext context, int status, params string[] errors) => Json(context, status, new { errors });

    private static async Task Json(HttpContext context, int status, object value)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(value));
    }

    private static Task NoContent(HttpContext context)
    {
        context.Response.StatusCode = 204;
        return Task.CompletedTask;
    }
}
