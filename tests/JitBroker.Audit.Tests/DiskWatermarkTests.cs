using JitBroker.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using NUnit.Framework;

namespace JitBroker.Audit.Tests;

/// <summary>
/// Issue 17 item 3: the broker turns not-ready before the audit volume is full (a full volume fails every issuance
/// closed), measured through <see cref="IAuditFileSystem"/> at most once per <see cref="AuditOptions.DiskCheckInterval"/>.
/// </summary>
public sealed class DiskWatermarkTests
{
    private const long MiB = 1024 * 1024;

    private static (AuditDiskWatermark Check, Mock<IAuditFileSystem> Files, Microsoft.Extensions.Time.Testing.FakeTimeProvider Time) Create(
        long available, long total, long minFreeBytes = 100 * MiB, double minFreePercent = 5)
    {
        var files = new Mock<IAuditFileSystem>();
        files.Setup(f => f.VolumeSpace(It.IsAny<string>())).Returns(new AuditVolumeSpace(available, total));
        var time = TestClock.Create();
        var options = new AuditOptions
        {
            Path = "/var/lib/jitbroker/audit/a.jsonl", MinFreeBytes = minFreeBytes, MinFreePercent = minFreePercent,
            DiskCheckInterval = TimeSpan.FromSeconds(10),
        };
        return (new AuditDiskWatermark(options, files.Object, time, NullLogger<AuditDiskWatermark>.Instance), files, time);
    }

    [TestCase(500, 1000, true, TestName = "Ready with half the volume free")]
    [TestCase(99, 100_000, false, TestName = "Not ready below the byte watermark however large the volume")]
    [TestCase(4_000, 100_000, false, TestName = "Not ready below the percentage watermark")]
    public async Task Readiness_follows_the_free_space_of_the_audit_volume(long availableMiB, long totalMiB, bool ready)
    {
        var (check, files, _) = Create(availableMiB * MiB, totalMiB * MiB);

        Assert.That(await check.IsReadyAsync(), Is.EqualTo(ready));
        files.Verify(f => f.VolumeSpace("/var/lib/jitbroker/audit"), Times.Once, "the directory that holds the audit file is measured");
        Assert.That(check.Name, Does.Contain("MinFreeBytes"), "/readyz names the watermark");
    }

    [Test]
    public async Task A_measurement_is_reused_within_the_interval_and_renewed_after_it()
    {
        var (check, files, time) = Create(500 * MiB, 1000 * MiB);
        Assert.That(await check.IsReadyAsync(), Is.True);

        files.Setup(f => f.VolumeSpace(It.IsAny<string>())).Returns(new AuditVolumeSpace(10 * MiB, 1000 * MiB));
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.That(await check.IsReadyAsync(), Is.True, "within the interval: the last measurement");
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.That(await check.IsReadyAsync(), Is.False, "after it: measured again, now below the watermark");
        files.Verify(f => f.VolumeSpace(It.IsAny<string>()), Times.Exactly(2));
    }

    [Test]
    public async Task Space_that_cannot_be_measured_is_not_ready()
    {
        var (check, files, _) = Create(0, 0);
        files.Setup(f => f.VolumeSpace(It.IsAny<string>())).Throws(new IOException("statvfs failed"));

        Assert.That(await check.IsReadyAsync(), Is.False);
    }

    [Test]
    public async Task The_real_file_system_reports_the_volume_of_a_directory()
    {
        var space = ((IAuditFileSystem)PhysicalAuditFileSystem.Instance).VolumeSpace(Path.GetTempPath());

        Assert.That(space.TotalBytes, Is.GreaterThan(0));
        Assert.That(space.AvailableBytes, Is.InRange(0, space.TotalBytes));
        await Task.CompletedTask;
    }

    [TestCase(0, 1, 10, "MinFreeBytes")]
    [TestCase(256, -1, 10, "MinFreePercent")]
    [TestCase(256, 60, 10, "MinFreePercent")]
    [TestCase(256, 1, 0, "DiskCheckInterval")]
    public void Nonsense_watermarks_are_refused_by_name(long minFreeMiB, double percent, int intervalSeconds, string key)
    {
        var options = new AuditOptions
        {
            Path = "a.jsonl", MinFreeBytes = minFreeMiB * MiB, MinFreePercent = percent, DiskCheckInterval = TimeSpan.FromSeconds(intervalSeconds),
        };

        Assert.That(options.Validate(), Has.One.StartsWith($"{AuditOptions.SectionPath}:{key} "));
        Assert.That(new AuditOptions { Path = "a.jsonl" }.Validate(), Is.Empty, "the defaults are valid");
    }
}
