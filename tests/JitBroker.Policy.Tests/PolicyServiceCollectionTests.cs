using JitBroker.Core;
using JitBroker.Testing;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.DependencyInjection;
using Moq;
using static JitBroker.Policy.Tests.PolicyDirectory;

namespace JitBroker.Policy.Tests;

/// <summary>AddJitBrokerPolicy: options validation and which engine is registered.</summary>
public sealed class PolicyServiceCollectionTests
{
    private PolicyDirectory _dir = null!;

    [SetUp]
    public void Create() => _dir = new PolicyDirectory();

    [TearDown]
    public void Remove() => _dir.Dispose();

    [Test]
    public void Directory_registers_the_reloading_engine_on_the_container_clock()
    {
        _dir.Write("policy.yaml", Document(AllowRule("r")));
        var clock = TestClock.Create();
        var services = new ServiceCollection().AddJitBrokerPolicy(new PolicyOptions { Path = _dir.Path, ReloadInterval = TimeSpan.Zero });
        var provider = Provider(services, clock);

        var engine = Resolve<IPolicyEngine>(services, provider);
        var reloading = Resolve<ReloadingPolicyEngine>(services, provider);

        Assert.That(engine, Is.InstanceOf<ReloadingPolicyEngine>());
        Assert.That(reloading.Current.SourceFiles, Has.Count.EqualTo(1));
        Assert.That(Resolve<PolicyOptions>(services, provider).Path, Is.EqualTo(_dir.Path));
        reloading.Dispose();
    }

    [Test]
    public void Single_file_without_reload_registers_a_static_engine()
    {
        var file = _dir.Write("policy.yaml", Document(AllowRule("r")));
        var services = new ServiceCollection().AddJitBrokerPolicy(new PolicyOptions { Path = file, ReloadInterval = TimeSpan.Zero });

        Assert.That(Resolve<IPolicyEngine>(services, Provider(services, TimeProvider.System)), Is.InstanceOf<YamlPolicyEngine>());
    }

    [Test]
    public void Single_file_with_reload_registers_the_reloading_engine()
    {
        var file = _dir.Write("policy.yaml", Document(AllowRule("r")));
        var services = new ServiceCollection().AddJitBrokerPolicy(new PolicyOptions { Path = file, ReloadInterval = TimeSpan.FromSeconds(5) });

        using var engine = (ReloadingPolicyEngine)Resolve<IPolicyEngine>(services, Provider(services, TestClock.Create()));

        Assert.That(engine.Version, Is.EqualTo(1));
    }

    [TestCase("", 10, "Policy:Path must name a policy file or directory.")]
    [TestCase("/nonexistent/policy", 10, "is neither a file nor a directory")]
    [TestCase(null, 0.5, "Policy:ReloadInterval must be 0 (no polling) or between 1 second and 1 hour.")]
    [TestCase(null, 7200, "Policy:ReloadInterval must be 0")]
    public void Invalid_options_are_listed(string? path, double intervalSeconds, string problem)
    {
        var options = new PolicyOptions { Path = path ?? _dir.Path, ReloadInterval = TimeSpan.FromSeconds(intervalSeconds) };

        Assert.That(options.Validate(), Has.Some.Contains(problem));
        Assert.That(() => new ServiceCollection().AddJitBrokerPolicy(options),
            Throws.InvalidOperationException.With.Message.StartsWith("Invalid policy options: "));
    }

    [Test]
    public void Defaults_are_valid_for_an_existing_path_and_revoke_on_reload()
    {
        var options = new PolicyOptions { Path = _dir.Path };

        Assert.That(options.Validate(), Is.Empty);
        Assert.That(options.RevokeOnReload, Is.True);
        Assert.That(options.ReloadInterval, Is.EqualTo(TimeSpan.FromSeconds(10)));
    }

    // The tests use no DI container package: factories are invoked with a provider that knows the clock only.
    private static Mock<IServiceProvider> Provider(IServiceCollection services, TimeProvider clock)
    {
        var provider = new Mock<IServiceProvider>();
        provider.Setup(p => p.GetService(typeof(TimeProvider))).Returns(clock);
        provider.Setup(p => p.GetService(It.Is<Type>(t => t != typeof(TimeProvider))))
            .Returns((Type type) => services.LastOrDefault(d => d.ServiceType == type) is { } d ? Create(d, provider.Object) : null);
        return provider;
    }

    private static T Resolve<T>(IServiceCollection services, Mock<IServiceProvider> provider) =>
        (T)Create(services.Last(d => d.ServiceType == typeof(T)), provider.Object)!;

    private static object? Create(ServiceDescriptor descriptor, IServiceProvider provider) =>
        descriptor.ImplementationInstance ?? descriptor.ImplementationFactory?.Invoke(provider);
}
