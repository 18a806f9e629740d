using System.Diagnostics;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using JitBroker.Cli;
using JitBroker.Protocol.V1;
using Grpc.Core;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>What a jitctl process did: exit code and both output streams (printed whole on a failed assertion).</summary>
internal sealed record CliResult(int Code, string Out, string Err)
{
    public JsonElement Json() => JsonDocument.Parse(Out).RootElement;

    public override string ToString() => $"exit {Code}\n--- stdout\n{Out}\n--- stderr\n{Err}";
}

/// <summary>jitctl as operators run it: a separate process (jitctl.dll next to the tests), talking to a running broker.</summary>
internal static class Jitctl
{
    public static Task<CliResult> RunAsync(Uri broker, string? identity, params string[] args) =>
        RunWithInputAsync(broker, identity, stdin: null, identityCommand: null, args);

    /// <summary>
    /// jitctl fetching a fresh operator token before every admin call through <c>--identity-command</c> (here the dev
    /// trust domain's <c>jitctl dev-svid</c>), as commands that make several calls (<c>--wait</c>) need.
    /// </summary>
    public static Task<CliResult> RunWithIdentityCommandAsync(BrokerServerFixture broker, string id, params string[] args) =>
        RunWithInputAsync(broker.GrpcUri, null, stdin: null, $"dotnet '{JitctlDll}' dev-svid --spiffe-id '{id}' --data-dir '{broker.DataDirectory}'", args);

    /// <summary>jitctl with <paramref name="stdin"/> on its standard input and/or JITCTL_IDENTITY_COMMAND set.</summary>
    public static async Task<CliResult> RunWithInputAsync(Uri broker, string? identity, string? stdin, string? identityCommand, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null };
        start.ArgumentList.Add(JitctlDll);
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["JITCTL_BROKER"] = broker.ToString();
        start.Environment["JITCTL_ADMIN_ENDPOINT"] = BrokerServerFixture.AdminFor(broker).ToString();
        start.Environment.Remove("JITCTL_IDENTITY");
        start.Environment.Remove("JITCTL_IDENTITY_FILE");
        start.Environment.Remove("JITCTL_IDENTITY_COMMAND");
        start.Environment.Remove("JITCTL_CONFIG");
        if (identity is not null)
        {
            start.Environment["JITCTL_IDENTITY"] = identity;
        }

        if (identityCommand is not null)
        {
            start.Environment["JITCTL_IDENTITY_COMMAND"] = identityCommand;
        }

        using var process = Process.Start(start)!;
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }

        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }

    private static string JitctlDll => Path.Combine(TestContext.CurrentContext.TestDirectory, "jitctl.dll");
}

/// <summary>Bounded polling for effects that happen in the broker's background (sweeper, policy reload).</summary>
internal static class Eventually
{
    public static async Task<bool> TrueAsync(Func<Task<bool>> condition, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await condition())
            {
                return true;
            }

            if (clock.Elapsed > within)
            {
                return false;
            }

            await Task.Delay(100);
        }
    }
}

/// <summary>A private policy directory; files are replaced atomically (write + rename) as a ConfigMap update would.</summary>
internal sealed class PolicyDirectory : IDisposable
{
    public PolicyDirectory() => Path = Directory.CreateTempSubdirectory("jitbroker-policy-").FullName;

    public string Path { get; }

    public PolicyDirectory Write(string fileName, string yaml)
    {
        var temp = System.IO.Path.Combine(Path, "." + fileName + ".tmp");
        File.WriteAllText(temp, yaml);
        File.Move(temp, System.IO.Path.Combine(Path, fileName), overwrite: true);
        return this;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}

/// <summary>Calls and settings several end-to-end test classes share.</summary>
internal static class E2E
{
    public const string TrustDomain = "spiffe://dev.jitbroker.local";
    public const string AdminPattern = TrustDomain + "/humans/*";
    public const string Alice = TrustDomain + "/humans/alice";

    /// <summary>A rule that lets every agent of the dev trust domain read and create tickets (so each test can use its own agent).</summary>
    public const string AnyAgentTicketsPolicy = """
        version: 1
        rules:
          - id: agents-tickets
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/*"] }
            actions: ["tickets.read", "tickets.create"]
            tools: ["zendesk", "crm"]
            resources: ["tickets/*"]
            credential: { kind: jwt, audiences: ["https://tickets.internal.example"], max_ttl: 10m }
          - id: no-deletes
            effect: deny
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/**"] }
            actions: ["*.delete"]
            reason: Deleting data needs a human operator.
        """;

    public const string PaymentsAudience = "https://payments.internal.example";
    public const string Lead = TrustDomain + "/humans/leads/lena";
    public const string SelfApprover = TrustDomain + "/agents/self-approver";

    /// <summary>Refunds need a human lead's approval (or, to prove self-approval is refused, the self-approver agent's).</summary>
    public const string ApprovalPolicy = """
        version: 1
        rules:
          - id: refunds-need-approval
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/*"] }
            actions: ["payments.refund"]
            resources: ["orders/*"]
            approval:
              approvers: ["spiffe://dev.jitbroker.local/humans/leads/*", "spiffe://dev.jitbroker.local/agents/self-approver"]
              timeout: 10m
            credential: { kind: jwt, audiences: ["https://payments.internal.example"], max_ttl: 5m }
        """;

    public static RequestCredentialRequest Refund(string task, string order = "orders/7", string approvalId = "", TimeSpan? wait = null)
    {
        var request = BrokerClient.NewRequest(task, "payments.refund", PaymentsAudience, resources: [order], purpose: "customer was double charged",
            ttl: TimeSpan.FromMinutes(2));
        request.ApprovalId = approvalId;
        request.AwaitApproval = wait is null ? null : Duration.FromTimeSpan(wait.Value);
        return request;
    }

    public static string Agent(string name) => $"{TrustDomain}/agents/{name}";

    public static string AdminSvid(BrokerServerFixture broker, string id = Alice) =>
        broker.Dev.MintSvid(id, "jitbroker", TimeSpan.FromMinutes(30));

    /// <summary>An operator's client minting a fresh SVID per call: the broker accepts each admin token once.</summary>
    public static AdminClient Admin(BrokerServerFixture broker, string id = Alice) =>
        new(broker.AdminUri, _ => Task.FromResult(AdminSvid(broker, id)), TimeSpan.FromSeconds(30));

    public static RequestCredentialRequest Tickets(string task, string tool = "zendesk", string resource = "tickets/1", int ttlSeconds = 120) =>
        BrokerClient.NewRequest(task, "tickets.read", BrokerServerFixture.TicketsAudience, [tool], [resource], "e2e", TimeSpan.FromSeconds(ttlSeconds));

    /// <summary>Issues one ticket credential for <paramref name="agentId"/> with a fresh SVID (SVIDs are bound to their first task).</summary>
    public static Task<RequestCredentialResponse> IssueAsync(BrokerServerFixture broker, BrokerClient client, string agentId, string task, string tool = "zendesk") =>
        client.RequestCredentialAsync(broker.Svid(agentId), Tickets(task, tool));

    public static async Task<bool> IsActiveAsync(BrokerServerFixture broker, BrokerClient client, string token) =>
        (await client.IntrospectAsync(broker.Svid(BrokerServerFixture.ResourceServer), token)).Active;

    public static async Task<List<LeaseInfo>> LeasesOfAsync(AdminClient admin, string agentId)
    {
        var all = new List<LeaseInfo>();
        var page = "";
        do
        {
            var response = await admin.ListLeasesAsync(new ListLeasesRequest { AgentId = agentId, PageSize = 1000, PageToken = page });
            all.AddRange(response.Leases);
            page = response.NextPageToken;
        }
        while (page.Length > 0);

        return all;
    }

    /// <summary>RenewCredential over gRPC.</summary>
    public static async Task<RenewCredentialResponse> RenewAsync(BrokerServerFixture broker, string identity, string leaseId, TimeSpan? ttl = null)
    {
        using var client = broker.Client();
        var request = new RenewCredentialRequest { LeaseId = leaseId, RequestedTtl = ttl is null ? null : Duration.FromTimeSpan(ttl.Value) };
        return await client.RenewAsync(identity, request, TimeSpan.FromSeconds(30));
    }

    public static string? Reason(RpcException e) => e.Trailers.GetValue("jitbroker-reason");

    /// <summary>The leases of a <c>jitctl leases --json</c> answer (an empty page prints no <c>leases</c> member).</summary>
    public static List<JsonElement> LeasesIn(CliResult result) =>
        result.Json().TryGetProperty("leases", out var leases) ? [.. leases.EnumerateArray()] : [];
}
