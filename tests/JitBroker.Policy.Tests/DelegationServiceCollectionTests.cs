using JitBroker.Core;
using JitBroker.Testing;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.DependencyInjection;
using static JitBroker.Policy.Tests.PolicyDirectory;

namespace JitBroker.Policy.Tests;

/// <summary>AddJitBrokerPolicy registers IDelegationPolicy as the very engine instance that answers IPolicyEngine.</summary>
public sealed class DelegationServiceCollectionTests
{
    private PolicyDirectory _dir = null!;

    [SetUp]
    public void Create() => _dir = new PolicyDirectory();

    [TearDown]
    public void Remove() => _dir.Dispose();

    [Test]
    public void Reloading_engine_answers_both_contracts()
    {
        _dir.Write("policy.yaml", Document(AllowRule("r")));
        var services = new ServiceCollection().AddJitBrokerPolicy(new PolicyOptions { Path = _dir.Path, ReloadInterval = TimeSpan.Zero });
        var provider = new SingletonProvider(services, TestClock.Create());

        var delegation = provider.GetRequiredService<IDelegationPolicy>();

        Assert.That(delegation, Is.InstanceOf<ReloadingPolicyEngine>());
        Assert.That(delegation, Is.SameAs(provider.GetRequiredService<IPolicyEngine>()));
        Assert.That(delegation, Is.SameAs(provider.GetRequiredService<ReloadingPolicyEngine>()));
        AssertSingletons(services);
        ((ReloadingPolicyEngine)delegation).Dispose();
    }

    [Test]
    public void Static_engine_answers_both_contracts()
    {
        var file = _dir.Write("policy.yaml", Document(AllowRule("r")));
        var services = new ServiceCollection().AddJitBrokerPolicy(new PolicyOptions { Path = file, ReloadInterval = TimeSpan.Zero });
        var provider = new SingletonProvider(services, TimeProvider.System);

        var delegation = provider.GetRequiredService<IDelegationPolicy>();

        Assert.That(delegation, Is.InstanceOf<YamlPolicyEngine>());
        Assert.That(delegation, Is.SameAs(provider.GetRequiredService<IPolicyEngine>()));
        Assert.That(delegation, Is.SameAs(provider.GetRequiredService<YamlPolicyEngine>()));
        AssertSingletons(services);
    }

    [Test]
    public void Registering_twice_leaves_one_registration_per_contract()
    {
        var file = _dir.Write("policy.yaml", Document(AllowRule("r")));
        var services = new ServiceCollection()
            .AddJitBrokerPolicy(new PolicyOptions { Path = file, ReloadInterval = TimeSpan.Zero })
            .AddJitBrokerPolicy(new PolicyOptions { Path = file, ReloadInterval = TimeSpan.Zero });

        Assert.That(services.Count(d => d.ServiceType == typeof(IDelegationPolicy)), Is.EqualTo(1));
        Assert.That(services.Count(d => d.ServiceType == typeof(IPolicyEngine)), Is.EqualTo(1));
    }

    private static void AssertSingletons(IServiceCollection services) =>
        Assert.That(services.Where(d => d.ServiceType == typeof(IDelegationPolicy) || d.ServiceType == typeof(IPolicyEngine))
            .Select(d => d.Lifetime), Is.EqualTo(new[] { ServiceLifetime.Singleton, ServiceLifetime.Singleton }));

    /// <summary>
    /// The test project has no DI container package: this resolves the last registration of a type through its
    /// factory once and caches it, as a container does for singletons.
    /// </summary>
    private sealed class SingletonProvider(IServiceCollection services, TimeProvider clock) : IServiceProvider
    {
        private readonly Dictionary<Type, object?> _created = [];

        public object? GetService(Type serviceType)
        {
            if (serviceType == typeof(TimeProvider))
            {
                return clock;
            }

            if (_created.TryGetValue(serviceType, out var existing))
            {
                return existing;
            }

            var descriptor = services.LastOrDefault(d => d.ServiceType == serviceType);
            var created = descriptor is null ? null : descriptor.ImplementationInstance ?? descriptor.ImplementationFactory?.Invoke(this);
            _created[serviceType] = created;
            return created;
        }
    }
}
