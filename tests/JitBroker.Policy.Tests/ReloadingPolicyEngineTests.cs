using JitBroker.Core;
using JitBroker.Testing;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.Logging;
using static JitBroker.Policy.Tests.PolicyDirectory;
using static JitBroker.Policy.Tests.TestData;

namespace JitBroker.Policy.Tests;

/// <summary>Hot reload: atomic swaps, broken files keep the old policy, ConfigMap symlink swaps are seen.</summary>
public sealed class ReloadingPolicyEngineTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    private PolicyDirectory _dir = null!;
    private FakeTimeProvider _clock = null!;
    private ListLogger _log = null!;

    [SetUp]
    public void Create()
    {
        _dir = new PolicyDirectory();
        _clock = TestClock.Create();
        _log = new ListLogger();
    }

    [TearDown]
    public void Remove() => _dir.Dispose();

    private ReloadingPolicyEngine Start(TimeSpan? interval = null) => new(_dir.Path, interval ?? Interval, _clock, _log);

    private static string RuleIdFor(IPolicyEngine engine) => engine.Decide(Agent(SupportBot), Request("x.read", "aud")).RuleIds.Single();

    [Test]
    public void Poll_swaps_in_an_edited_policy_and_reports_it()
    {
        _dir.Write("policy.yaml", Document(AllowRule("v1")));
        using var engine = Start();
        var reports = Subscribe(engine);
        var firstHash = engine.Current.ContentHash;

        _dir.Write("policy.yaml", Document(AllowRule("v2")));
        _clock.Advance(Interval);

        Assert.That(RuleIdFor(engine), Is.EqualTo("v2"));
        Assert.That(engine.Version, Is.EqualTo(2));
        var report = reports.Single();
        Assert.That((report.Succeeded, report.Changed, report.Version, report.RuleCount, report.FileCount), Is.EqualTo((true, true, 2L, 1, 1)));
        Assert.That(report.ContentHash, Is.EqualTo(engine.Current.ContentHash).And.Not.EqualTo(firstHash));
        Assert.That(report.At, Is.EqualTo(_clock.GetUtcNow()));
        Assert.That(_log.EventIds, Is.EqualTo(new[] { 4101, 4102 }));
    }

    [Test]
    public void Unchanged_files_do_not_reload_or_notify()
    {
        _dir.Write("policy.yaml", Document(AllowRule("v1")));
        using var engine = Start();
        var reports = Subscribe(engine);

        _clock.Advance(Interval);
        _clock.Advance(Interval);

        Assert.That(engine.Version, Is.EqualTo(1));
        Assert.That(reports, Is.Empty);
    }

    [Test]
    public async Task Broken_file_keeps_the_old_policy_reports_once_and_recovers()
    {
        _dir.Write("policy.yaml", Document(AllowRule("v1")));
        using var engine = Start();
        var reports = Subscribe(engine);
        var goodHash = engine.Current.ContentHash;

        var broken = _dir.Write("policy.yaml", "version: 1\nrules:\n  - id: v2\n    effect: allow\n    principals: {}\n");
        _clock.Advance(Interval);
        _clock.Advance(Interval);
        var again = await engine.ReloadNowAsync();

        Assert.That(RuleIdFor(engine), Is.EqualTo("v1"), "old policy stays in force");
        var failure = reports.Single();
        Assert.That((failure.Succeeded, failure.Changed, failure.Version, failure.ContentHash), Is.EqualTo((false, false, 1L, goodHash)));
        Assert.That(failure.Error, Does.StartWith($"{broken}:5:17: rule 'v2': principals must name at least one of"));
        Assert.That(failure.RejectedContentHash, Is.Not.Null.And.Not.EqualTo(goodHash));
        Assert.That(again.Succeeded, Is.False, "still broken when asked directly");
        Assert.That(_log.EventIds.Count(id => id == 4103), Is.EqualTo(1), "logged once, not at every poll");

        _dir.Write("policy.yaml", Document(AllowRule("v3")));
        _clock.Advance(Interval);

        Assert.That(RuleIdFor(engine), Is.EqualTo("v3"));
        Assert.That(engine.Version, Is.EqualTo(2));
        Assert.That(reports.Last().Changed, Is.True);
    }

    [Test]
    public void Vanished_directory_keeps_the_old_policy()
    {
        _dir.Write("policy.yaml", Document(AllowRule("v1")));
        using var engine = Start();
        var reports = Subscribe(engine);

        _dir.Delete("policy.yaml");
        _clock.Advance(Interval);

        Assert.That(RuleIdFor(engine), Is.EqualTo("v1"));
        Assert.That(reports.Single().Error, Does.Contain("holds no policy files"));
    }

    [Test]
    public void Configmap_update_by_data_symlink_swap_is_reloaded()
    {
        // kubelet's atomic writer: new timestamped directory, then ..data renamed over to point at it. The
        // policy.yaml link itself, its name and the directory listing never change.
        _dir.Write("..2026_11_21_12_00_00.1/policy.yaml", Document(AllowRule("before")));
        File.CreateSymbolicLink(Path.Combine(_dir.Path, "..data"), "..2026_11_21_12_00_00.1");
        File.CreateSymbolicLink(Path.Combine(_dir.Path, "policy.yaml"), "..data/policy.yaml");
        using var engine = Start();

        _dir.Write("..2026_11_21_12_05_00.2/policy.yaml", Document(AllowRule("after")));
        File.CreateSymbolicLink(Path.Combine(_dir.Path, "..data_tmp"), "..2026_11_21_12_05_00.2");
        RenameOver(Path.Combine(_dir.Path, "..data_tmp"), Path.Combine(_dir.Path, "..data"));
        Directory.Delete(Path.Combine(_dir.Path, "..2026_11_21_12_00_00.1"), recursive: true);
        _clock.Advance(Interval);

        Assert.That(RuleIdFor(engine), Is.EqualTo("after"));
        Assert.That(engine.Version, Is.EqualTo(2));
    }

    [Test]
    public async Task Reload_now_works_without_polling_and_says_nothing_changed()
    {
        var file = _dir.Write("policy.yaml", Document(AllowRule("v1")));
        using var engine = new ReloadingPolicyEngine(file, TimeSpan.Zero, _clock);

        var unchanged = await engine.ReloadNowAsync();
        _dir.Write("policy.yaml", Document(AllowRule("v2"), AllowRule("extra", action: "y.read")));
        _clock.Advance(TimeSpan.FromHours(1));
        var beforeReload = RuleIdFor(engine);
        var changed = await engine.ReloadNowAsync();

        Assert.That((unchanged.Succeeded, unchanged.Changed, unchanged.Version), Is.EqualTo((true, false, 1L)));
        Assert.That(beforeReload, Is.EqualTo("v1"), "no polling with a zero interval");
        Assert.That((changed.Changed, changed.Version, changed.RuleCount), Is.EqualTo((true, 2L, 2)));
        Assert.That(RuleIdFor(engine), Is.EqualTo("v2"));
    }

    [Test]
    public void Throwing_subscriber_does_not_undo_the_reload()
    {
        _dir.Write("policy.yaml", Document(AllowRule("v1")));
        using var engine = Start();
        engine.PolicyReloaded += (_, _) => throw new InvalidOperationException("subscriber bug");

        _dir.Write("policy.yaml", Document(AllowRule("v2")));
        Assert.That(() => _clock.Advance(Interval), Throws.Nothing);

        Assert.That(RuleIdFor(engine), Is.EqualTo("v2"));
        Assert.That(_log.EventIds, Does.Contain(4104));
    }

    [Test]
    public void Invalid_policy_at_start_throws()
    {
        var file = _dir.Write("policy.yaml", "version: 2\nrules: []\n");

        Assert.That(() => new ReloadingPolicyEngine(file, Interval, _clock),
            Throws.TypeOf<PolicyLoadException>().With.Message.StartsWith($"{file}:1:10: unsupported policy version 2"));
    }

    [Test]
    public void Dispose_stops_polling()
    {
        _dir.Write("policy.yaml", Document(AllowRule("v1")));
        var engine = Start();
        engine.Dispose();

        _dir.Write("policy.yaml", Document(AllowRule("v2")));
        _clock.Advance(Interval);

        Assert.That(engine.Version, Is.EqualTo(1));
        Assert.That(() => engine.ReloadNowAsync(), Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public void Time_conditions_use_the_engine_clock()
    {
        _dir.Write("policy.yaml", "version: 1\nrules:\n  - id: office\n    effect: allow\n" +
            "    principals: { trust_domains: [dev.jitbroker.local] }\n    actions: [x.read]\n" +
            "    conditions: { TimeOfDayBetween: { between: [\"11:00\", \"13:00\"], time_zone: UTC } }\n" +
            "    credential: { audiences: [aud], max_ttl: 1m }\n");
        using var engine = Start();

        Assert.That(engine.Decide(Agent(SupportBot), Request("x.read", "aud")).Effect, Is.EqualTo(DecisionEffect.Allow));
        _clock.Advance(TimeSpan.FromHours(1));
        Assert.That(engine.Decide(Agent(SupportBot), Request("x.read", "aud")).Effect, Is.EqualTo(DecisionEffect.Deny));
    }

    // rename(2) of a symlink over a symlink, as kubelet does; File.Move refuses links to directories.
    private static void RenameOver(string source, string destination)
    {
        using var mv = System.Diagnostics.Process.Start("mv", ["-T", "-f", source, destination])!;
        Assert.That(mv.WaitForExit(TimeSpan.FromSeconds(10)) && mv.ExitCode == 0, Is.True, "mv -T failed");
    }

    private static List<PolicyReloadResult> Subscribe(ReloadingPolicyEngine engine)
    {
        var reports = new List<PolicyReloadResult>();
        engine.PolicyReloaded += (_, result) => reports.Add(result);
        return reports;
    }

    /// <summary>Keeps the event ids of every log call.</summary>
    internal sealed class ListLogger : ILogger<ReloadingPolicyEngine>
    {
        private readonly List<int> _eventIds = [];

        public IReadOnlyList<int> EventIds
        {
            get
            {
                lock (_eventIds)
                {
                    return [.. _eventIds];
                }
            }
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_eventIds)
            {
                _eventIds.Add(eventId.Id);
            }
        }
    }
}
