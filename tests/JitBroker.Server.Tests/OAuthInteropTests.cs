using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// What the OAuth peer tests share (issue 18 item 6): a broker whose issuer is its own HTTP listener, the JWT-SVIDs the
/// door accepts, and running a peer process. Independent implementations — npm oauth4webapi, a stock ASP.NET Core
/// JwtBearer resource server, Debian's python3-jwt — talk to that broker; none of them shares code with it.
/// </summary>
internal static class OAuthBroker
{
    /// <summary>A tickets rule for every agent, and the delegation the token exchange with an actor needs.</summary>
    public const string TicketsPolicy = """
        version: 1
        rules:
          - id: agents-tickets
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/*"] }
            actions: ["tickets.read", "tickets.create", "tickets.update"]
            tools: ["zendesk", "crm"]
            resources: ["tickets/*"]
            credential: { kind: jwt, audiences: ["https://tickets.internal.example"], max_ttl: 10m }
          - id: no-deletes
            effect: deny
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/**"] }
            actions: ["*.delete"]
            reason: Deleting data needs a human operator.
        delegations:
          - id: planner-to-workers
            from: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/planner"] }
            to: ["spiffe://dev.jitbroker.local/workers/*"]
            actions: ["tickets.*"]
            max_depth: 2
        """;

    /// <summary>
    /// Starts a broker whose <c>JitBroker:Issuer:Issuer</c> is <c>http://127.0.0.1:&lt;its HTTP port&gt;</c>: the door's URLs
    /// derive from the issuer, so the port must be known before start-up (the usual fixture binds port 0). The port is
    /// probed free first; a bind that loses the race to another process is retried on a new port.
    /// </summary>
    public static async Task<BrokerServerFixture> StartAsync(IDictionary<string, string?>? overrides = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            var settings = new Dictionary<string, string?>(overrides ?? new Dictionary<string, string?>())
            {
                ["JitBroker:Listen:Http"] = $"127.0.0.1:{port}",
                ["JitBroker:Issuer:Issuer"] = $"http://127.0.0.1:{port}",
            };
            try
            {
                return await BrokerServerFixture.StartAsync(settings);
            }
            catch (IOException) when (attempt < 3)
            {
                // Kestrel's "address already in use": someone took the port between the probe and the bind.
            }
        }
    }

    /// <summary>The issuer the broker was configured with (and so the metadata's <c>issuer</c> and every token's <c>iss</c>).</summary>
    public static string Issuer(BrokerServerFixture broker) => $"http://127.0.0.1:{broker.HttpUri.Port}";

    /// <summary>A JWT-SVID for the OAuth door: addressed to the issuer (RFC 7523 §3 item 3), not to the gRPC audience.</summary>
    public static string Svid(BrokerServerFixture broker, string spiffeId, string? audience = null) =>
        broker.Dev.MintSvid(spiffeId, audience ?? Issuer(broker), TimeSpan.FromMinutes(5));

    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}

/// <summary>Plain HTTP calls to the door, for the tests whose peer is not itself an OAuth client.</summary>
internal static class OAuthHttp
{
    public const string JwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    public const string AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    public static async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(HttpClient http, BrokerServerFixture broker, string path,
        params (string Name, string Value)[] form)
    {
        using var content = new FormUrlEncodedContent(form.Select(p => KeyValuePair.Create(p.Name, p.Value)));
        using var response = await http.PostAsync(OAuthBroker.Issuer(broker) + path, content);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>A task token for <paramref name="agent"/> through the jwt-bearer grant; fails the test unless it is issued.</summary>
    public static async Task<string> TokenAsync(HttpClient http, BrokerServerFixture broker, string agent, string resource, string scope,
        string resources = "tickets/1", int? ttlSeconds = null)
    {
        var details = new JsonObject { ["type"] = "jitbroker_task", ["resources"] = new JsonArray(resources) };
        if (ttlSeconds is { } ttl)
        {
            details["ttl_seconds"] = ttl;
        }

        var (status, body) = await PostAsync(http, broker, "/oauth2/token", ("grant_type", JwtBearer), ("assertion", OAuthBroker.Svid(broker, agent)),
            ("resource", resource), ("scope", scope), ("authorization_details", new JsonArray(details).ToJsonString()));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        return body.GetProperty("access_token").GetString()!;
    }

    /// <summary>RFC 7662 introspection as the tickets resource server (private_key_jwt with its JWT-SVID).</summary>
    public static async Task<JsonElement> IntrospectAsync(HttpClient http, BrokerServerFixture broker, string token)
    {
        var (status, body) = await PostAsync(http, broker, "/oauth2/introspect", ("token", token), ("client_assertion_type", AssertionType),
            ("client_assertion", OAuthBroker.Svid(broker, BrokerServerFixture.ResourceServer)));
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        return body;
    }

    /// <summary>RFC 7009 revocation by the agent holding the token.</summary>
    public static async Task<HttpStatusCode> RevokeAsync(HttpClient http, BrokerServerFixture broker, string agent, string token) =>
        (await PostAsync(http, broker, "/oauth2/revoke", ("token", token), ("client_assertion_type", AssertionType),
            ("client_assertion", OAuthBroker.Svid(broker, agent)))).Status;

    /// <summary>The token with its payload's <c>scope</c> widened and re-encoded, the signature kept: what an attacker would try.</summary>
    public static string WidenScope(string token)
    {
        var parts = token.Split('.');
        var payload = JsonNode.Parse(Base64Url.DecodeFromChars(parts[1]))!.AsObject();
        payload["scope"] = payload["scope"]!.GetValue<string>().Replace("tickets.read", "tickets.create", StringComparison.Ordinal);
        return parts[0] + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload.ToJsonString())) + "." + parts[2];
    }

    /// <summary>The token with one payload character changed (still base64url): the signature no longer covers it.</summary>
    public static string FlipPayloadCharacter(string token)
    {
        var parts = token.Split('.');
        var payload = parts[1].ToCharArray();
        var i = payload.Length / 2;
        payload[i] = payload[i] == 'A' ? 'B' : 'A';
        return parts[0] + "." + new string(payload) + "." + parts[2];
    }
}

/// <summary>Runs a peer process with its input on stdin (tokens never go on a command line, where <c>ps</c> shows them).</summary>
internal static class OAuthPeer
{
    /// <param name="onStderrLine">Called with each line the peer writes to stderr while it runs (a peer asking its test for
    /// something mid-run, such as an approval); the whole of stderr is also shown if the peer fails.</param>
    public static async Task<string> RunAsync(string file, IEnumerable<string> args, string? stdin = null, string? workingDirectory = null,
        Func<string, Task>? onStderrLine = null, CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = ReadLinesAsync(process.StandardError, onStderrLine, cancellationToken);
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin.AsMemory(), cancellationToken);
        }

        process.StandardInput.Close();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        Assert.That(process.ExitCode, Is.Zero, $"{file} failed: {await stderr}\n{await stdout}");
        _ = await stderr; // a callback's failure surfaces here
        return await stdout;
    }

    private static async Task<string> ReadLinesAsync(StreamReader reader, Func<string, Task>? onLine, CancellationToken cancellationToken = default)
    {
        var all = new System.Text.StringBuilder();
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            all.AppendLine(line);
            if (onLine is not null)
            {
                await onLine(line);
            }
        }

        return all.ToString();
    }

    /// <summary>Debian's python3 (which sees python3-jwt), as scripts/test.sh sets it, not a pyenv shim.</summary>
    public static string Python => Environment.GetEnvironmentVariable("JITBROKER_TEST_PYTHON") ?? "/usr/bin/python3";
}
