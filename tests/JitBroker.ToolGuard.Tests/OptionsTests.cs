using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace JitBroker.ToolGuard.Tests;

/// <summary>Start-up refuses settings that would weaken a check; the defaults are the documented ones.</summary>
[TestFixture]
public sealed class OptionsTests
{
    private static ToolGuardOptions Valid() => new()
    {
        Issuer = "https://broker.example",
        Resource = "https://tickets.internal.example",
        WorkloadToken = _ => Task.FromResult("svid"),
    };

    [Test]
    public void The_defaults_are_the_documented_ones()
    {
        var o = new ToolGuardOptions();
        Assert.That((o.ClockSkew, o.Introspection.CacheDuration, o.Introspection.FailOpen, o.UseReports.BatchSize, o.UseReports.FlushInterval),
            Is.EqualTo((TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(500), false, 500, TimeSpan.FromSeconds(1))));
        Assert.That(ToolGuardServiceCollectionExtensions.Validate(Valid()), Is.Null);
    }

    [TestCase("http://broker.example", false, "must be https")]
    [TestCase("http://broker.example", true, "must be https")]
    [TestCase("http://127.0.0.1:8080", false, "must be https")]
    [TestCase("not a url", false, "absolute http(s)")]
    public void A_cleartext_or_malformed_issuer_is_refused_unless_loopback_is_allowed(string issuer, bool allowLoopback, string error)
    {
        var o = Valid();
        o.Issuer = issuer;
        o.AllowInsecureHttpForLoopback = allowLoopback;
        Assert.That(ToolGuardServiceCollectionExtensions.Validate(o), Does.Contain(error));
        o.Issuer = "http://127.0.0.1:8080";
        o.AllowInsecureHttpForLoopback = true;
        Assert.That(ToolGuardServiceCollectionExtensions.Validate(o), Is.Null);
    }

    [Test]
    public void Other_bad_settings_are_refused()
    {
        var cases = new Action<ToolGuardOptions>[]
        {
            o => o.Resource = "https://tickets.example/#frag",
            o => o.Resource = "",
            o => o.WorkloadToken = null,
            o => o.ClockSkew = TimeSpan.FromMinutes(10),
            o => o.Introspection.CacheDuration = TimeSpan.FromSeconds(-1),
            o => o.UseReports.BatchSize = 501,
            o => o.UseReports.BufferSize = 0,
            o => o.PublicBaseUrl = "ftp://x",
        };
        foreach (var change in cases)
        {
            var o = Valid();
            change(o);
            Assert.That(ToolGuardServiceCollectionExtensions.Validate(o), Is.Not.Null);
        }
    }

    [Test]
    public void The_host_will_not_start_with_invalid_settings()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddJitBrokerToolGuard(o => o.Issuer = "http://broker.example");
        using var provider = services.BuildServiceProvider();
        Assert.That(() => provider.GetRequiredService<IOptions<ToolGuardOptions>>().Value, Throws.TypeOf<OptionsValidationException>());
    }
}
