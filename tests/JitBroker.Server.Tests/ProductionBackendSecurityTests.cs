using JitBroker.Server;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// The production profile reaches Redis over TLS and Vault over https unless an operator explicitly says a mesh
/// encrypts the hop, and it needs the state integrity key (issue 17 items 7 and 8).
/// </summary>
public sealed class ProductionBackendSecurityTests
{
    private static JitBrokerSettings Production(Action<JitBrokerSettings>? configure = null)
    {
        var settings = new JitBrokerSettings
        {
            Profile = Profiles.Production,
            DataDirectory = "/var/lib/jitbroker",
            Leases = new LeaseStoreSettings { Store = LeaseStoreSettings.Redis },
            Issuer = { Issuer = "https://broker.example" },
        };
        settings.Redis.Endpoint = "redis.example:6380";
        settings.Redis.UseTls = true;
        settings.StateIntegrity.KeyPath = "/etc/jitbroker/state-integrity/key";
        settings.AuditSigningKey.PrivateKeyPemPath = "/etc/jitbroker/audit/audit-signing-key.pem";
        settings.Vault.Address = new Uri("https://vault.example:8200");
        settings.Vault.Auth.TokenPath = "/vault/token";
        configure?.Invoke(settings);
        return settings;
    }

    private static string Errors(JitBrokerSettings settings) => string.Join("\n", SettingsValidator.Validate(settings));

    [Test]
    public void The_baseline_production_settings_have_no_backend_transport_or_key_error()
    {
        var errors = Errors(Production());

        Assert.That(errors, Does.Not.Contain("UseTls").And.Not.Contain("https").And.Not.Contain("StateIntegrity"));
    }

    [Test]
    public void Production_refuses_Redis_without_TLS()
    {
        Assert.That(Errors(Production(s => s.Redis.UseTls = false)), Does.Contain("JitBroker:Redis:UseTls must be true"));
    }

    [Test]
    public void Production_refuses_Vault_over_plain_http()
    {
        Assert.That(Errors(Production(s => s.Vault.Address = new Uri("http://vault.example:8200"))), Does.Contain("JitBroker:Vault:Address must be https"));
    }

    [Test]
    public void A_mesh_opt_out_per_backend_allows_cleartext_to_that_backend_only()
    {
        var errors = Errors(Production(s =>
        {
            s.Redis.UseTls = false;
            s.Redis.CleartextBehindMesh = true;
            s.Vault.Address = new Uri("http://vault.example:8200");
        }));

        Assert.That(errors, Does.Not.Contain("UseTls"));
        Assert.That(errors, Does.Contain("JitBroker:Vault:Address must be https"), "Redis' opt-out says nothing about Vault");
    }

    [Test]
    public void The_embedded_profile_keeps_allowing_local_cleartext_backends()
    {
        var errors = Errors(Production(s =>
        {
            s.Profile = Profiles.Embedded;
            s.Redis.UseTls = false;
            s.Vault.Address = new Uri("http://127.0.0.1:8200");
            s.StateIntegrity.KeyPath = null;
        }));

        Assert.That(errors, Does.Not.Contain("UseTls").And.Not.Contain("must be https").And.Not.Contain("StateIntegrity"));
    }

    [Test]
    public void Production_requires_the_state_integrity_key_file()
    {
        Assert.That(Errors(Production(s => s.StateIntegrity.KeyPath = null)), Does.Contain("JitBroker:StateIntegrity:KeyPath is required"));
    }

    [Test]
    public void Production_requires_the_audit_signing_key_file()
    {
        Assert.That(Errors(Production(s => s.AuditSigningKey.PrivateKeyPemPath = null)), Does.Contain("JitBroker:AuditSigningKey:PrivateKeyPemPath is required"));
    }

    [Test]
    public void Production_with_an_audit_key_file_has_no_audit_key_error()
    {
        Assert.That(Errors(Production()), Does.Not.Contain("AuditSigningKey"));
    }
}
