using JitBroker.Core;
using JitBroker.Vault.Issuers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace JitBroker.Vault.Tests;

public sealed class VaultOptionsTests
{
    private static VaultOptions Valid() => new()
    {
        Address = new Uri("https://vault.example:8200"),
        Auth = new VaultAuthOptions { Method = VaultAuthMethod.Token, TokenPath = "/var/run/vault/token" },
        AllowedSecretPathPrefixes = ["database/creds/"],
    };

    [Test]
    public void Valid_options_have_no_problems() => Assert.That(Valid().Validate(), Is.Empty);

    [TestCase("address-missing")]
    [TestCase("address-path")]
    [TestCase("timeout")]
    [TestCase("token-path")]
    [TestCase("approle-files")]
    [TestCase("kubernetes-role")]
    [TestCase("prefix")]
    [TestCase("mount")]
    [TestCase("ca-on-http")]
    public void Each_problem_is_reported(string problem)
    {
        var options = Valid();
        switch (problem)
        {
            case "address-missing": options.Address = null; break;
            case "address-path": options.Address = new Uri("https://vault.example/v1/"); break;
            case "timeout": options.Timeout = TimeSpan.Zero; break;
            case "token-path": options.Auth.TokenPath = " "; break;
            case "approle-files": options.Auth = new VaultAuthOptions { Method = VaultAuthMethod.AppRole, RoleIdPath = "/r" }; break;
            case "kubernetes-role": options.Auth = new VaultAuthOptions { Method = VaultAuthMethod.Kubernetes }; break;
            case "prefix": options.AllowedSecretPathPrefixes = ["../sys/"]; break;
            case "mount": options.Auth.MountPath = "a/../b"; break;
            case "ca-on-http": options.Address = new Uri("http://vault.example:8200"); options.CaCertificatePath = "/ca.pem"; break;
        }

        Assert.That(options.Validate().ToList(), Has.Count.EqualTo(1));
    }

    [Test]
    public void Mount_paths_default_per_method()
    {
        Assert.That(new VaultAuthOptions { Method = VaultAuthMethod.AppRole }.EffectiveMountPath, Is.EqualTo("approle"));
        Assert.That(new VaultAuthOptions { Method = VaultAuthMethod.Kubernetes }.EffectiveMountPath, Is.EqualTo("kubernetes"));
        Assert.That(new VaultAuthOptions { Method = VaultAuthMethod.Jwt, MountPath = "/oidc-k8s/" }.EffectiveMountPath, Is.EqualTo("oidc-k8s"));
    }

    [Test]
    public void AddJitBrokerVault_registers_both_issuers_and_readiness()
    {
        var services = new ServiceCollection();
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));

        services.AddJitBrokerVault(Valid());
        using var provider = services.BuildServiceProvider();

        var kinds = provider.GetServices<ICredentialIssuer>().Select(i => i.Kind).ToList();
        Assert.That(kinds, Is.EquivalentTo(new[] { VaultTokenIssuer.KindName, VaultSecretIssuer.KindName }));
        Assert.That(provider.GetService<VaultReadiness>(), Is.Not.Null);
        Assert.That(provider.GetService<TimeProvider>(), Is.SameAs(TimeProvider.System));
    }

    [Test]
    public void AddJitBrokerVault_refuses_invalid_options_listing_every_problem()
    {
        var options = Valid();
        options.Address = null;
        options.Auth.TokenPath = null;

        Assert.That(() => new ServiceCollection().AddJitBrokerVault(options),
            Throws.InvalidOperationException.With.Message.Contains("Address").And.Message.Contains("TokenPath"));
    }

    [TestCase("database/creds/readonly", true)]
    [TestCase("database/creds/", false)]
    [TestCase("database/creds", false)]
    [TestCase("aws/creds/deploy", true)]
    [TestCase("aws/creds/deploy/extra", false)]
    public void Allowed_prefixes_match_whole_segments_or_exact_paths(string path, bool allowed) =>
        Assert.That(VaultPaths.IsAllowed(path, ["database/creds/", "aws/creds/deploy"]), Is.EqualTo(allowed));
}
