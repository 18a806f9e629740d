using JitBroker.Server.Ssf;
using NUnit.Framework;

namespace JitBroker.Server.Tests.Ssf;

/// <summary>Start-up validation of <c>JitBroker:Ssf</c>: each check refuses a bad value with a message naming the key.</summary>
public sealed class SsfSettingsTests
{
    private static SsfSettings Valid() => new()
    {
        Enabled = true,
        Receivers = [new SsfReceiverSettings { Identity = "spiffe://corp/tools/tickets", Audiences = ["https://tickets.example"] }],
    };

    [Test]
    public void A_valid_configuration_and_a_disabled_one_pass()
    {
        Assert.That(Valid().Validate(oauthEnabled: true), Is.Empty);
        Assert.That(new SsfSettings { Receivers = [] }.Validate(oauthEnabled: false), Is.Empty, "off: nothing is checked");
    }

    private static readonly (string Name, Action<SsfSettings> Break, string Key)[] Cases =
    [
        ("no OAuth door", _ => { }, "OAuth:Enabled"),
        ("no receivers", s => s.Receivers.Clear(), "Ssf:Receivers must"),
        ("unanchored glob", s => s.Receivers[0].Identity = "*", "Ssf:Receivers:0:Identity"),
        ("no audience", s => s.Receivers[0].Audiences.Clear(), "Ssf:Receivers:0:Audiences"),
        ("prefix without slash", s => s.Receivers[0].EndpointPrefixes.Add("https://r.example/x"), "Ssf:Receivers:0:EndpointPrefixes"),
        ("retention too short", s => s.Retention = TimeSpan.FromSeconds(5), "Ssf:Retention"),
        ("batch zero", s => s.MaxBatch = 0, "Ssf:MaxBatch"),
        ("parallel zero", s => s.MaxParallelPushes = 0, "Ssf:MaxParallelPushes"),
        ("timeout zero", s => s.PushTimeout = TimeSpan.Zero, "Ssf:PushTimeout"),
        ("poll too fast", s => s.PollInterval = TimeSpan.FromMilliseconds(1), "Ssf:PollInterval"),
        ("backoff inverted", s => s.RetryMaxDelay = TimeSpan.FromMilliseconds(1), "Ssf:RetryInitialDelay"),
        ("streams zero", s => s.MaxStreamsPerReceiver = 0, "Ssf:MaxStreamsPerReceiver"),
    ];

    [TestCaseSource(nameof(Cases))]
    public void Each_bad_value_is_refused_naming_its_key((string Name, Action<SsfSettings> Break, string Key) c)
    {
        var settings = Valid();
        c.Break(settings);
        var problems = settings.Validate(oauthEnabled: c.Name != "no OAuth door").ToList();
        Assert.That(problems, Has.Some.Contains(c.Key), c.Name);
    }
}
