namespace JitBroker.Server.Tests;

/// <summary>
/// A test broker serving <see cref="E2E.AnyAgentTicketsPolicy"/> from a private policy directory, with the given admin
/// principals: the set-up that several Server test classes share, kept in one place so they cannot drift apart.
/// Disposing stops the broker first (it watches the directory), then deletes the directory.
/// </summary>
internal sealed class AnyAgentTicketsBroker : IAsyncDisposable
{
    private readonly PolicyDirectory _policy;

    private AnyAgentTicketsBroker(PolicyDirectory policy, BrokerServerFixture broker)
    {
        _policy = policy;
        Broker = broker;
    }

    public BrokerServerFixture Broker { get; }

    /// <param name="adminPrincipals">SPIFFE ID patterns allowed to call the admin API, in order; none leaves it closed.</param>
    /// <param name="moreSettings">Further configuration a test class needs, on top of the admin principals and policy path.</param>
    public static async Task<AnyAgentTicketsBroker> StartAsync(
        IReadOnlyList<string> adminPrincipals, IReadOnlyDictionary<string, string?>? moreSettings = null)
    {
        var policy = new PolicyDirectory().Write("10-agents.yaml", E2E.AnyAgentTicketsPolicy);
        var settings = new Dictionary<string, string?>(moreSettings ?? new Dictionary<string, string?>());
        for (var i = 0; i < adminPrincipals.Count; i++)
        {
            settings[$"JitBroker:Admin:Principals:{i}"] = adminPrincipals[i];
        }

        settings["JitBroker:Policy:Path"] = policy.Path;
        try
        {
            return new AnyAgentTicketsBroker(policy, await BrokerServerFixture.StartAsync(settings));
        }
        catch
        {
            policy.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Broker.DisposeAsync();
        }
        finally
        {
            _policy.Dispose();
        }
    }
}
