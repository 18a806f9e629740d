using JitBroker.Cli;
using JitBroker.Protocol.V1;
using JitBroker.Server.Tests;
using NUnit.Framework;

namespace JitBroker.Console.Tests.InBrowser;

/// <summary>
/// One console site per test class (provider + broker with <see cref="ConsolePeople.Policy"/>) and an agent's gRPC
/// client. The classes are non-parallel: each starts chromium per test, and the machine has few cores.
/// </summary>
[NonParallelizable]
public abstract class ConsoleBrowserSuite
{
    private PolicyDirectory _policy = null!;

    protected ConsoleSite Site { get; private set; } = null!;

    protected BrokerClient Agent { get; private set; } = null!;

    [OneTimeSetUp]
    public async Task StartSite()
    {
        _policy = new PolicyDirectory();
        Site = await ConsoleSite.StartAsync(idp =>
        {
            _policy.Write("20-console.yaml", ConsolePeople.Policy(idp));
            return new Dictionary<string, string?> { ["JitBroker:Policy:Path"] = _policy.Path };
        });
        Agent = Site.Broker.Client();
    }

    [OneTimeTearDown]
    public async Task StopSite()
    {
        Agent.Dispose();
        await Site.DisposeAsync();
        _policy.Dispose();
    }

    /// <summary>A refund of <paramref name="order"/> through the stripe tool: the rule asks a person to approve it.</summary>
    protected static RequestCredentialRequest RefundRequest(string task, string order, string purpose) =>
        BrokerClient.NewRequest(task, "payments.refund", E2E.PaymentsAudience, ["stripe"], [order], purpose, TimeSpan.FromMinutes(2));

    /// <summary><paramref name="agent"/> asks for a refund and is answered pending; returns the approval's id.</summary>
    protected async Task<string> PendingApprovalAsync(string agent, string task, string order = "orders/9")
    {
        var pending = await Agent.RequestCredentialAsync(Site.Broker.Svid(E2E.Agent(agent)), RefundRequest(task, order, "console browser tests"));
        Assert.That(pending.PendingApproval, Is.Not.Null, "the rule needs approval");
        return pending.PendingApproval.ApprovalId;
    }

    protected async Task<string> ApprovalStateAsync(string id)
    {
        using var admin = Site.Admin();
        return (await admin.GetApprovalAsync(id)).State;
    }
}
