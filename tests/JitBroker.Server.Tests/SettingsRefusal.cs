using JitBroker.Server;
using Microsoft.Extensions.Configuration;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>Builds a broker from <c>settings</c> (plus a data directory and loopback listeners) and expects it refused at start-up.</summary>
internal static class SettingsRefusal
{
    public static InvalidBrokerConfigurationException Refused(string dataDirectory, Dictionary<string, string?> settings)
    {
        settings.TryAdd("JitBroker:DataDirectory", dataDirectory);
        settings.TryAdd("JitBroker:Listen:Grpc", "127.0.0.1:0");
        settings.TryAdd("JitBroker:Listen:Http", "127.0.0.1:0");
        return Assert.Throws<InvalidBrokerConfigurationException>(() =>
            BrokerHost.Build([], c => c.AddInMemoryCollection(settings)).DisposeAsync().AsTask().GetAwaiter().GetResult())!;
    }
}
