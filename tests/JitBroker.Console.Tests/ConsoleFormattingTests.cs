using JitBroker.WebConsole;
using NUnit.Framework;

namespace JitBroker.Console.Tests;

/// <summary>How the console writes times and stored principals: one time format everywhere, principals shortened, never hidden.</summary>
public sealed class ConsoleFormattingTests
{
    [TestCase("http://127.0.0.1:5555#alice", "alice")]
    [TestCase("https://login.corp.example#00u1abc", "00u1abc")]
    [TestCase("spiffe://corp.example/agent/refunds", "spiffe://corp.example/agent/refunds")]
    [TestCase("https://login.corp.example#", "https://login.corp.example#")]
    [TestCase("#bob", "#bob")]
    public void A_person_principal_shows_its_subject_and_anything_else_shows_whole(string principal, string shown) =>
        Assert.That(ConsolePrincipal.Short(principal), Is.EqualTo(shown));

    [Test]
    public void An_audit_records_iso_time_reads_like_every_other_console_time()
    {
        Assert.That(ConsoleTime.Format("2026-12-03T11:32:42.1234567+00:00"), Is.EqualTo("2026-12-03 11:32:42 UTC"));
        Assert.That(ConsoleTime.Format("2026-12-03T12:32:42+01:00"), Is.EqualTo("2026-12-03 11:32:42 UTC"));
        Assert.That(ConsoleTime.Format("not a time"), Is.EqualTo("not a time"), "shown as recorded rather than dropped");
        Assert.That(ConsoleTime.Format((DateTimeOffset?)null), Is.EqualTo("—"));
        Assert.That(ConsoleTime.InText("jwt for https://t.example, expires 2026-12-03T12:00:49.0000000+00:00; done"),
            Is.EqualTo("jwt for https://t.example, expires 2026-12-03 12:00:49 UTC; done"));
    }
}
