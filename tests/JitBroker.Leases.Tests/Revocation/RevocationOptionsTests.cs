using JitBroker.Revocation;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Revocation;

[TestFixture]
public sealed class RevocationOptionsTests
{
    [Test]
    public void Defaults_are_valid() => Assert.That(new RevocationOptions().Validate(), Is.Empty);

    [Test]
    public void Every_invalid_setting_is_reported()
    {
        var options = new RevocationOptions { SweepInterval = TimeSpan.Zero, BatchSize = 0, MaxParallelRevocations = 0 };

        var problems = options.Validate().ToList();

        Assert.That(problems, Has.Count.EqualTo(3));
        Assert.That(problems, Has.Some.Contains("SweepInterval"));
        Assert.That(problems, Has.Some.Contains("BatchSize"));
        Assert.That(problems, Has.Some.Contains("MaxParallelRevocations"));
    }

    [Test]
    public void A_sweep_interval_of_hours_is_refused() =>
        Assert.That(new RevocationOptions { SweepInterval = TimeSpan.FromHours(1) }.Validate(), Has.One.Contains("SweepInterval"));

    [Test]
    public void Registration_refuses_invalid_options()
    {
        var services = new ServiceCollection();

        var error = Assert.Throws<InvalidOperationException>(() => services.AddJitBrokerRevocation(new RevocationOptions { BatchSize = -1 }));

        Assert.That(error!.Message, Does.Contain("BatchSize"));
    }
}
