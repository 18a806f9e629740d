using JitBroker.Core;
using Moq;
using NUnit.Framework;

namespace JitBroker.Audit.Tests;

public sealed class FileSinkTests
{
    private AuditFixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new AuditFixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    [Test]
    public async Task A_new_file_is_created_owner_only()
    {
        await _f.WriteLogAsync(1);
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("Unix file modes only.");
        }
        else
        {
            Assert.That(File.GetUnixFileMode(_f.LogPath), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        }
    }

    [Test]
    public async Task Always_fsyncs_each_batch_before_the_append_returns()
    {
        var files = new WatchedFileSystem(_f.LogPath);
        await using var log = _f.Log(_f.Options(), new AuditFileSink(_f.Options(), files.Object));
        for (var i = 1; i <= 3; i++)
        {
            await log.AppendAsync(AuditFixture.Issued(i));
            // Everything in the file when the append returned had already been fsynced.
            Assert.That(files.SyncedLengths, Is.Not.Empty);
            Assert.That(files.SyncedLengths[^1], Is.EqualTo(new FileInfo(_f.LogPath).Length));
        }

        files.Verify(f => f.FlushToDisk(It.IsAny<Stream>()), Times.AtLeast(3));
    }

    [Test]
    public async Task Interval_fsyncs_on_the_clock_not_per_append()
    {
        var files = new WatchedFileSystem(_f.LogPath);
        var options = _f.Options(fsync: AuditFsyncPolicy.Interval);
        await using var log = _f.Log(options, new AuditFileSink(options, files.Object));
        await log.AppendAsync(AuditFixture.Issued(1));
        Assert.That(files.SyncedLengths, Is.Empty, "the append returned without an fsync");

        _f.Clock.Advance(TimeSpan.FromSeconds(1));
        await files.FirstSync.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(files.SyncedLengths[0], Is.EqualTo(new FileInfo(_f.LogPath).Length));
    }

    [Test]
    public async Task Never_does_not_fsync_even_at_shutdown()
    {
        var files = new WatchedFileSystem(_f.LogPath);
        var options = _f.Options(fsync: AuditFsyncPolicy.Never);
        await using (var log = _f.Log(options, new AuditFileSink(options, files.Object)))
        {
            await log.AppendAsync(AuditFixture.Issued(1));
            await log.FlushAsync();
        }

        files.Verify(f => f.FlushToDisk(It.IsAny<Stream>()), Times.Never);
        Assert.That(_f.ReadLines(), Has.Length.EqualTo(2), "written all the same (event + final checkpoint)");
    }

    [Test]
    public async Task Start_up_is_refused_on_a_tail_that_is_not_UTF8_even_where_it_would_decode_to_the_hashed_text()
    {
        await using (var log = _f.Log(_f.Options()))
        {
            await log.AppendAsync(AuditFixture.Issued(1) with { TaskId = "task-\uFFFD" });
        }

        // Keep only the event, and spell its U+FFFD as an invalid byte: a lenient decoder reads the same text,
        // so the record still matches its hash.
        _f.WriteLines(_f.ReadLines().Where(l => !l.Contains("audit.checkpoint", StringComparison.Ordinal)));
        var bytes = File.ReadAllBytes(_f.LogPath);
        var at = bytes.AsSpan().IndexOf("\uFFFD"u8);
        Assert.That(at, Is.GreaterThan(0));
        File.WriteAllBytes(_f.LogPath, [.. bytes[..at], 0xFF, .. bytes[(at + 3)..]]);

        await using var reopened = _f.Log(_f.Options());
        var error = Assert.ThrowsAsync<BrokerException>(() => reopened.StartAsync());
        Assert.That(error!.Reason, Is.EqualTo(Reasons.Audit.TailInvalid));
        Assert.That(error.Message, Does.Contain("line 1 or the line before it is not valid UTF-8"));
    }

    [TestCase("torn", "line 4 is incomplete")]
    [TestCase("edited", "line 4 (seq 4) does not match its hash")]
    [TestCase("unchained", "line 3 (seq 4) does not chain to the line before it (seq 2)")]
    [TestCase("garbage", "line 4 is not a valid audit record")]
    public async Task Start_up_is_refused_on_a_tail_it_cannot_continue_naming_the_line(string damage, string expected)
    {
        var lines = (await _f.WriteLogAsync(3)).ToList(); // 3 events + checkpoint (line 4)
        switch (damage)
        {
            case "torn":
                File.WriteAllText(_f.LogPath, string.Concat(lines.Select(l => l + "\n"))[..^20]);
                break;
            case "edited":
                lines[3] = lines[3].Replace("\"alg\":\"ES256\"", "\"alg\":\"none\"", StringComparison.Ordinal);
                _f.WriteLines(lines);
                break;
            case "unchained":
                lines.RemoveAt(2);
                _f.WriteLines(lines);
                break;
            default:
                lines[3] = "{oops";
                _f.WriteLines(lines);
                break;
        }

        var before = File.ReadAllBytes(_f.LogPath);
        await using var log = _f.Log(_f.Options());
        var error = Assert.ThrowsAsync<BrokerException>(() => log.StartAsync());
        Assert.That(error!.Reason, Is.EqualTo(Reasons.Audit.TailInvalid));
        Assert.That(error.Message, Does.Contain(expected));
        Assert.That(File.ReadAllBytes(_f.LogPath), Is.EqualTo(before), "the file is left for the operator");

        var append = Assert.ThrowsAsync<BrokerException>(async () => await log.AppendAsync(AuditFixture.Issued(9)));
        Assert.That((append!.Failure, append.Reason), Is.EqualTo((BrokerFailure.Unavailable, Reasons.Audit.Unavailable)));
    }

    [Test]
    public async Task A_second_writer_on_the_same_file_is_refused()
    {
        await using var first = _f.Log(_f.Options());
        await first.StartAsync();
        await using var second = _f.Log(_f.Options());
        var error = Assert.ThrowsAsync<BrokerException>(() => second.StartAsync());
        Assert.That(error!.Message, Does.Contain("another broker"));
    }

    [Test]
    public async Task Appends_fail_closed_when_the_directory_does_not_exist_or_the_path_is_a_directory()
    {
        foreach (var path in new[] { Path.Combine(_f.Dir, "gone", "audit.jsonl"), _f.Dir })
        {
            var options = _f.Options();
            options.Path = path;
            await using var log = _f.Log(options);
            var error = Assert.ThrowsAsync<BrokerException>(async () => await log.AppendAsync(AuditFixture.Issued(1)));
            Assert.That((error!.Failure, error.Reason), Is.EqualTo((BrokerFailure.Unavailable, Reasons.Audit.Unavailable)), path);
        }
    }

    [Test]
    public async Task A_failed_write_fails_closed_and_the_chain_resumes_when_the_disk_recovers()
    {
        var files = new WatchedFileSystem(_f.LogPath);
        await using (var log = _f.Log(_f.Options(), new AuditFileSink(_f.Options(), files.Object)))
        {
            await log.AppendAsync(AuditFixture.Issued(1));
            files.FailWrites = true;
            var error = Assert.ThrowsAsync<BrokerException>(async () => await log.AppendAsync(AuditFixture.Issued(2)));
            Assert.That(error!.Reason, Is.EqualTo(Reasons.Audit.Unavailable));
            Assert.That(error.InnerException, Is.TypeOf<IOException>());
            Assert.ThrowsAsync<BrokerException>(async () => await log.AppendAsync(AuditFixture.Issued(3)), "still failing");

            files.FailWrites = false;
            await log.AppendAsync(AuditFixture.Issued(4));
        }

        var result = await _f.VerifyAsync();
        Assert.That(result.Ok, Is.True, result.FirstFailure?.Message);
        Assert.That(result.EventsChecked, Is.EqualTo(2), "events 1 and 4; the failed ones were never written");
    }

    [Test]
    public async Task A_torn_write_keeps_failing_closed_until_the_file_is_repaired()
    {
        var files = new WatchedFileSystem(_f.LogPath);
        await using var log = _f.Log(_f.Options(), new AuditFileSink(_f.Options(), files.Object));
        await log.AppendAsync(AuditFixture.Issued(1));
        files.TearWrites = true;
        Assert.ThrowsAsync<BrokerException>(async () => await log.AppendAsync(AuditFixture.Issued(2)));
        files.TearWrites = false;

        var error = Assert.ThrowsAsync<BrokerException>(async () => await log.AppendAsync(AuditFixture.Issued(3)));
        Assert.That(error!.InnerException, Is.TypeOf<BrokerException>().With.Property(nameof(BrokerException.Reason)).EqualTo(Reasons.Audit.TailInvalid));
    }
}
