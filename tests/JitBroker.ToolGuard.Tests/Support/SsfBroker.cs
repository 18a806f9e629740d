using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using JitBroker.Core;
using JitBroker.Core.Handlers;
using JitBroker.Issuance;
using Microsoft.Extensions.DependencyInjection;

namespace JitBroker.ToolGuard.Tests.Support;

/// <summary>A broker that transmits Shared Signals to the tool, and a tool that receives them: the configuration both need.</summary>
internal static class SsfBroker
{
    public static Task<Broker> StartAsync() => Broker.StartAsync(new Dictionary<string, string?>
    {
        ["JitBroker:Ssf:Enabled"] = "true",
        ["JitBroker:Ssf:AllowLoopbackHttp"] = "true",
        ["JitBroker:Ssf:Receivers:0:Identity"] = Broker.ToolIdentity,
        ["JitBroker:Ssf:Receivers:0:Audiences:0"] = ToolServer.Resource,
        ["JitBroker:Ssf:PollInterval"] = "00:00:00.050",
        ["JitBroker:Ssf:RetryInitialDelay"] = "00:00:00.100",
        ["JitBroker:Ssf:RetryMaxDelay"] = "00:00:00.500",
    });

    /// <summary>
    /// A tool receiving pushes whose introspection answers live 10 minutes (healthy push or not): a refusal within
    /// seconds can then only have come by push.
    /// </summary>
    public static Task<ToolServer> ToolAsync(Broker broker, Action<ToolGuardOptions>? configure = null) => ToolServer.StartAsync(o =>
    {
        o.Issuer = broker.Issuer;
        o.WorkloadToken = broker.ToolSvidAsync;
        o.UseReports.Enabled = false;
        o.Introspection.CacheDuration = TimeSpan.FromMinutes(10);
        o.Signals.Enabled = true;
        o.Signals.VerificationInterval = TimeSpan.FromSeconds(2);
        o.Signals.IntrospectionCacheWhilePushHealthy = TimeSpan.FromMinutes(10);
        configure?.Invoke(o);
    });

    public static async Task WaitUntilHealthyAsync(ToolServer tool)
    {
        var health = tool.Services.GetRequiredService<PushHealth>();
        for (var i = 0; i < 400 && !health.IsHealthy(TimeSpan.FromSeconds(2)); i++)
        {
            await Task.Delay(25);
        }

        if (!health.IsHealthy(TimeSpan.FromSeconds(2)))
        {
            throw new InvalidOperationException("the tool's stream was not verified within 10 s");
        }
    }

    /// <summary>The operator's kill switch on <paramref name="agent"/>, through the broker's own handler.</summary>
    public static Task BlockAsync(Broker broker, string agent) => broker.Services.GetRequiredService<KillSwitchHandler>()
        .BlockAsync(new WorkloadIdentity { Id = Broker.TrustDomain + "/ops/admin", TrustDomain = Broker.TrustDomain, Method = "jwt-svid", EvidenceFingerprint = "sha256:test" }, agent, "test");

    /// <summary>A compact JWS over <paramref name="payload"/> with the broker's own signing key (or <paramref name="forger"/>, under the broker's kid).</summary>
    public static string Sign(Broker broker, string payload, string typ = "secevent+jwt", ECDsa? forger = null)
    {
        var key = broker.Services.GetRequiredService<ISigningKeyProvider>().Current;
        var input = B64($"{{\"alg\":\"{key.Algorithm}\",\"kid\":\"{key.KeyId}\",\"typ\":\"{typ}\"}}") + "." + B64(payload);
        var signature = forger is null ? key.Sign(Encoding.ASCII.GetBytes(input)) : forger.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256);
        return input + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>A session-revoked SET payload about one credential.</summary>
    public static string Revoked(string issuer, string audience, string jti, DateTimeOffset iat, string? setId = null, string? subjectIssuer = null) =>
        System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["iss"] = issuer, ["jti"] = setId ?? "set_" + Guid.NewGuid().ToString("N"), ["iat"] = iat.ToUnixTimeSeconds(), ["aud"] = audience,
            ["sub_id"] = new { format = "jwt_id", iss = subjectIssuer ?? issuer, jti },
            ["events"] = new Dictionary<string, object>
            {
                ["https://schemas.openid.net/secevent/caep/event-type/session-revoked"] = new { event_timestamp = iat.ToUnixTimeSeconds() },
            },
        });

    private static string B64(string s) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(s));
}
