using System.Text.Json.Nodes;
using JitBroker.Audit;
using JitBroker.Cli;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// The request's intent as the broker records it: tools, resources and context of the wire message reach the audit line
/// unchanged and in order, with an empty context and with several entries. Pins the mapping of the gRPC message to the
/// core request, whatever it copies or shares.
/// </summary>
[NonParallelizable]
public sealed class IntentMappingE2ETests
{
    [Test]
    public async Task Tools_resources_and_context_reach_the_audit_line_as_sent()
    {
        using var policy = new PolicyDirectory().Write("10-agents.yaml", E2E.AnyAgentTicketsPolicy);
        await using var broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?> { ["JitBroker:Policy:Path"] = policy.Path });
        using var client = broker.Client();
        var agent = E2E.Agent("intent-mapping");

        await client.RequestCredentialAsync(broker.Svid(agent), BrokerClient.NewRequest("im-1", "tickets.read",
            BrokerServerFixture.TicketsAudience, ["zendesk"], ["tickets/1"], "no context", TimeSpan.FromSeconds(60)));
        var withContext = BrokerClient.NewRequest("im-2", "tickets.read", BrokerServerFixture.TicketsAudience,
            ["crm", "zendesk"], ["tickets/9", "tickets/2"], "with context", TimeSpan.FromSeconds(60));
        withContext.Intent.Context.Add("ticket", "9");
        withContext.Intent.Context.Add("customer", "acme");
        await client.RequestCredentialAsync(broker.Svid(agent), withContext);

        var path = Path.Combine(broker.DataDirectory, "audit.jsonl");
        JsonObject IntentOf(string task)
        {
            var line = File.ReadLines(path).Select(AuditRecord.Parse).Single(r => r.Type == "credential.issued" && r.GetString("task_id") == task);
            return (JsonObject)line.ToJson()["intent"]!;
        }

        Assert.That(await Eventually.TrueAsync(() => Task.FromResult(File.ReadAllText(path).Contains("im-2", StringComparison.Ordinal)), TimeSpan.FromSeconds(10)), Is.True);
        var first = IntentOf("im-1");
        Assert.That(first["tools"]!.ToJsonString(), Is.EqualTo("""["zendesk"]"""));
        Assert.That(first["resources"]!.ToJsonString(), Is.EqualTo("""["tickets/1"]"""));
        var firstContext = first["context"]?.ToJsonString();
        Assert.That(firstContext is null or "{}", Is.True, $"an absent context is recorded as none, not {firstContext}");
        var second = IntentOf("im-2");
        Assert.That(second["tools"]!.ToJsonString(), Is.EqualTo("""["crm","zendesk"]"""));
        Assert.That(second["resources"]!.ToJsonString(), Is.EqualTo("""["tickets/9","tickets/2"]"""));
        Assert.That(((JsonObject)second["context"]!).ToDictionary(p => p.Key, p => (string?)p.Value), Is.EquivalentTo(new Dictionary<string, string?> { ["ticket"] = "9", ["customer"] = "acme" }));
    }
}
