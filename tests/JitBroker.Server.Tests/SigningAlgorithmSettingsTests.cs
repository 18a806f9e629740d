using JitBroker.Server;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// <c>JitBroker:SigningKey:Algorithm</c> at start-up: the three JWS algorithms only, scheduled rotation with ES256 only
/// (rotated keys are derived, and RSA key derivation from a secret is not done), the audit checkpoint key ES256 only.
/// </summary>
public sealed class SigningAlgorithmSettingsTests
{
    private static string Errors(Action<JitBrokerSettings> configure)
    {
        var settings = new JitBrokerSettings { DataDirectory = "/var/lib/jitbroker" };
        configure(settings);
        return string.Join("\n", SettingsValidator.Validate(settings));
    }

    [TestCase("ES256")]
    [TestCase("RS256")]
    [TestCase("PS256")]
    public void Each_supported_algorithm_is_accepted(string algorithm)
    {
        Assert.That(Errors(s => s.SigningKey.Algorithm = algorithm), Does.Not.Contain("Algorithm"));
    }

    [TestCase("HS256")]
    [TestCase("none")]
    [TestCase("es256")]
    [TestCase("RS512")]
    public void An_unknown_algorithm_is_an_error_naming_the_allowed_values(string algorithm)
    {
        Assert.That(Errors(s => s.SigningKey.Algorithm = algorithm),
            Does.Contain($"JitBroker:SigningKey:Algorithm '{algorithm}' is not supported; use one of ES256, RS256, PS256"));
    }

    [TestCase("RS256")]
    [TestCase("PS256")]
    public void Scheduled_rotation_with_an_rsa_algorithm_is_an_error_saying_why(string algorithm)
    {
        var errors = Errors(s =>
        {
            s.SigningKey.Algorithm = algorithm;
            s.SigningKey.RotationInterval = TimeSpan.FromDays(1);
        });

        Assert.That(errors, Does.Contain($"JitBroker:SigningKey:RotationInterval works with JitBroker:SigningKey:Algorithm ES256 only, not {algorithm}")
            .And.Contain("no vetted equivalent for RSA"));
    }

    [Test]
    public void Scheduled_rotation_with_es256_is_no_algorithm_error()
    {
        Assert.That(Errors(s => s.SigningKey.RotationInterval = TimeSpan.FromDays(1)), Does.Not.Contain("works with JitBroker:SigningKey:Algorithm"));
    }

    [TestCase("RS256")]
    [TestCase("HS256")]
    public void The_audit_checkpoint_key_stays_es256(string algorithm)
    {
        var errors = Errors(s => s.AuditSigningKey.Algorithm = algorithm);

        Assert.That(errors, Does.Contain($"JitBroker:AuditSigningKey:Algorithm must be ES256, not '{algorithm}'"));
        Assert.That(errors, Does.Not.Contain("JitBroker:AuditSigningKey:Algorithm '"), "one message, not also the token key's list of algorithms");
    }
}
