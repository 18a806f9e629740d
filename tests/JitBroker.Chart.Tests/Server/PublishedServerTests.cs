using System.Text.Json;
using NUnit.Framework;

namespace JitBroker.Chart.Tests.Server;

/// <summary>What scripts/publish-server.sh produced for the server tests (the image's /app): the runtime inside, one composite native image.</summary>
public sealed class PublishedServerTests
{
    [Test]
    public void The_published_server_carries_its_runtime_and_a_composite_image()
    {
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(PublishedServer.Directory, "JitBroker.Server.runtimeconfig.json")));
        var options = config.RootElement.GetProperty("runtimeOptions");
        Assert.Multiple(() =>
        {
            Assert.That(options.TryGetProperty("includedFrameworks", out _), "self-contained: the frameworks are included");
            Assert.That(options.TryGetProperty("framework", out _) || options.TryGetProperty("frameworks", out _), Is.False, "no shared framework to find");
            Assert.That(File.Exists(Path.Combine(PublishedServer.Directory, "libcoreclr.so")), "the runtime is in the output");
            Assert.That(new FileInfo(Path.Combine(PublishedServer.Directory, "JitBroker.Server.r2r.dll")), Has.Property("Length").GreaterThan(10_000_000),
                "the composite native image of framework and broker");
        });
    }
}
