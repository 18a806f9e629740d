using System.Reflection;
using Microsoft.Extensions.Logging;
using NUnit.Framework;

namespace JitBroker.Server.Tests.Catalogues;

/// <summary>
/// Log event ids are a public contract (alerts and dashboards key on them): unique across the solution, each
/// inside its project's range (docs/catalogues.md), and changed only together with log-events.txt.
/// </summary>
public sealed class LogEventCatalogueTests
{
    // The same table as docs/catalogues.md; both ends inclusive.
    private static readonly Dictionary<string, (int From, int To)> Ranges = new(StringComparer.Ordinal)
    {
        ["JitBroker.Server"] = (100, 999),
        ["JitBroker.Core"] = (1000, 1999),
        ["JitBroker.Attestation"] = (2000, 2999),
        ["JitBroker.Revocation"] = (3000, 3999),
        ["JitBroker.Audit"] = (4000, 4099),
        ["JitBroker.Policy"] = (4100, 4199),
        ["JitBroker.OAuth"] = (4200, 4299),
        ["JitBroker.ToolGuard"] = (4300, 4399),
        ["JitBroker.Console"] = (4400, 4499),
        ["JitBroker.Redis"] = (5000, 5999),
        ["JitBroker.Vault"] = (6000, 6999),
        ["JitBroker.Issuance"] = (7000, 7999),
        ["JitBroker.Leases"] = (8000, 8999),
        ["jitctl"] = (9000, 9499),
        ["JitBroker.Protocol"] = (9500, 9999),
    };

    [Test]
    public void Every_src_project_has_a_range_and_no_two_ranges_overlap()
    {
        var projects = Directory.GetDirectories(Path.Combine(CatalogueSnapshot.RepositoryRoot(), "src"))
            .Where(d => Directory.EnumerateFiles(d, "*.csproj").Any()).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.That(Ranges.Keys.Order(StringComparer.Ordinal), Is.EqualTo(projects.Select(CatalogueSnapshot.AssemblyOf!).Order(StringComparer.Ordinal)));
        Assert.That(CatalogueSnapshot.SourceProjects.Order(StringComparer.Ordinal), Is.EqualTo(projects));

        var sorted = Ranges.Values.OrderBy(r => r.From).ToList();
        for (var i = 1; i < sorted.Count; i++)
        {
            Assert.That(sorted[i].From, Is.GreaterThan(sorted[i - 1].To), $"{sorted[i]} overlaps {sorted[i - 1]}");
        }
    }

    [Test]
    public void No_two_log_events_share_an_id_or_a_name()
    {
        var events = Events();
        Assert.That(events, Has.Count.GreaterThan(50), "reflection found the [LoggerMessage] methods");
        var sharedIds = events.GroupBy(e => e.Id).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(e => e.Where))}");
        var sharedNames = events.GroupBy(e => e.Name).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(e => e.Where))}");
        Assert.That(sharedIds, Is.Empty, "duplicate EventIds");
        Assert.That(sharedNames, Is.Empty, "duplicate EventNames");
    }

    [Test]
    public void Every_log_event_id_lies_in_its_projects_range()
    {
        var outside = Events().Where(e => Ranges[e.Project] is var r && (e.Id < r.From || e.Id > r.To)).Select(e => $"{e.Id} {e.Where}");
        Assert.That(outside, Is.Empty);
    }

    [Test]
    public void Log_events_match_the_checked_in_snapshot() =>
        CatalogueSnapshot.AssertMatches("log-events.txt",
            Events().OrderBy(e => e.Id).Select(e => $"{e.Id} {e.Name} {e.Level} {e.Project}"));

    private sealed record LogEvent(int Id, string Name, LogLevel Level, string Project, string Where);

    private static List<LogEvent> Events()
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        return [.. from assembly in CatalogueSnapshot.SourceAssemblies()
                   from type in assembly.GetTypes()
                   from method in type.GetMethods(all)
                   let attribute = method.GetCustomAttribute<LoggerMessageAttribute>()
                   where attribute is not null
                   select new LogEvent(attribute.EventId, attribute.EventName ?? method.Name, attribute.Level,
                       assembly.GetName().Name!, $"{type.FullName}.{method.Name}")];
    }
}
