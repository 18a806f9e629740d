using JitBroker.Core;
using JitBroker.Issuance;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NUnit.Framework;

namespace JitBroker.Audit.Tests;

public sealed class HostingTests
{
    private AuditFixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new AuditFixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    [Test]
    public async Task The_host_opens_the_log_at_start_and_checkpoints_and_closes_it_at_stop()
    {
        using var host = Build(_f.Options());
        await host.StartAsync();
        var log = host.Services.GetRequiredService<IAuditLog>();
        Assert.That(log, Is.SameAs(host.Services.GetRequiredService<AuditLog>()));
        await log.AppendAsync(AuditFixture.Issued(1));
        await host.StopAsync();

        var last = AuditRecord.Parse(_f.ReadLines()[^1]);
        Assert.That(last.IsCheckpoint, Is.True, "final checkpoint at shutdown");
        Assert.That((await _f.VerifyAsync()).Ok, Is.True);
    }

    [Test]
    public async Task The_host_refuses_to_start_on_a_log_it_cannot_continue()
    {
        await File.WriteAllTextAsync(_f.LogPath, "{\"seq\":1,\"tor");
        using var host = Build(_f.Options());
        var error = Assert.ThrowsAsync<BrokerException>(() => host.StartAsync());
        Assert.That(error!.Reason, Is.EqualTo(Reasons.Audit.TailInvalid));
        Assert.That(error.Message, Does.Contain("line 1"));
    }

    [Test]
    public void Invalid_options_are_all_reported()
    {
        var options = new AuditOptions { Path = "", CheckpointEveryEvents = 0, CheckpointInterval = TimeSpan.Zero, FsyncPolicy = AuditFsyncPolicy.Interval, FsyncInterval = TimeSpan.Zero };
        Assert.That(options.Validate().ToList(), Has.Count.EqualTo(4));
        Assert.That(_f.Options().Validate(), Is.Empty);
        var error = Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddJitBrokerAudit(options));
        Assert.That(error!.Message, Does.Contain("Audit:Path").And.Contain("Audit:CheckpointEveryEvents"));
    }

    private IHost Build(AuditOptions options)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton<TimeProvider>(_f.Clock);
        builder.Services.AddSingleton(new AuditSigningKeys(_f.Keys, new StaticSigningKeyProvider(SigningKey.Generate())));
        builder.Services.AddJitBrokerAudit(options);
        return builder.Build();
    }
}
