using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>Issue 21: the kill switch's progress as a page shows it — counts from the schedule, who/why/when from this replica.</summary>
public sealed class BlockOperationsTests
{
    private static async Task<(PipelineFixture F, WorkloadIdentity Admin)> ThreeLeasesAsync()
    {
        var f = new PipelineFixture();
        foreach (var task in new[] { "t1", "t2", "t3" })
        {
            await f.IssueAsync(PipelineFixture.Request(task));
        }

        return (f, await f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Human)));
    }

    [Test]
    public async Task A_block_s_progress_counts_its_leases_until_the_sweepers_have_revoked_them_all()
    {
        var (f, admin) = await ThreeLeasesAsync();
        var started = f.Time.GetUtcNow();
        var (_, summary) = await f.KillSwitchAdmin.BlockAsync(admin, PipelineFixture.Agent, "incident 7");

        var before = (await f.BlockOperations.GetAsync(summary.BatchId))!;
        Assert.That((before.Total, before.Revoked, before.Failed, before.IsDone, before.FinishedAt), Is.EqualTo((3L, 0L, 0L, false, (DateTimeOffset?)null)));
        Assert.That(before.Operation, Is.EqualTo(new BlockOperation(summary.BatchId, PipelineFixture.Agent, "incident 7", PipelineFixture.Human, started, summary)));

        f.Time.Advance(TimeSpan.FromSeconds(4));
        Assert.That(await f.SweepAsync(), Is.EqualTo(3));
        var after = (await f.BlockOperations.GetAsync(summary.BatchId))!;
        Assert.That((after.Total, after.Revoked, after.IsDone), Is.EqualTo((3L, 3L, true)));
        Assert.That(after.FinishedAt, Is.EqualTo(started + TimeSpan.FromSeconds(4)), "first seen done");

        f.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.That((await f.BlockOperations.GetAsync(summary.BatchId))!.FinishedAt, Is.EqualTo(after.FinishedAt), "the finish time does not move on later reads");
    }

    [Test]
    public async Task A_failing_revocation_shows_as_failed_and_keeps_the_block_from_being_done()
    {
        var (f, admin) = await ThreeLeasesAsync();
        var (_, summary) = await f.KillSwitchAdmin.BlockAsync(admin, PipelineFixture.Agent, "incident");
        var claimed = await f.Leases.ClaimDueAsync(f.Time.GetUtcNow(), 1, f.Options.RevocationClaimTimeout);
        await f.Leases.MarkRevokeFailedAsync(claimed.Single().LeaseId, "backend 502", f.Time.GetUtcNow().AddMinutes(5));
        await f.SweepAsync();

        var progress = (await f.BlockOperations.GetAsync(summary.BatchId))!;
        Assert.That((progress.Total, progress.Revoked, progress.Failed, progress.IsDone), Is.EqualTo((3L, 2L, 1L, false)));
        Assert.That(progress.FinishedAt, Is.Null);
    }

    [Test]
    public async Task A_block_with_nothing_to_revoke_is_done_at_once()
    {
        var f = new PipelineFixture();
        var admin = await f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Human));
        var (_, summary) = await f.KillSwitchAdmin.BlockAsync(admin, "spiffe://example.org/agents/idle", "precaution");

        var progress = (await f.BlockOperations.GetAsync(summary.BatchId))!;
        Assert.That((progress.Total, progress.IsDone, progress.FinishedAt), Is.EqualTo((0L, true, (DateTimeOffset?)f.Time.GetUtcNow())));
    }

    [Test]
    public async Task A_batch_started_elsewhere_shows_its_counts_without_who_or_when()
    {
        var (f, admin) = await ThreeLeasesAsync();
        // Another replica's block: the schedule (shared) knows the batch, this replica's memory does not.
        var summary = await f.RevokeLeases.RevokeAsync(admin, new RevokeSelector.Agent(PipelineFixture.Agent), confirmed: false, "elsewhere");
        await f.SweepAsync();

        var progress = (await f.BlockOperations.GetAsync(summary.BatchId))!;
        Assert.That((progress.Total, progress.Revoked, progress.IsDone), Is.EqualTo((3L, 3L, true)));
        Assert.That((progress.Operation, progress.FinishedAt), Is.EqualTo(((BlockOperation?)null, (DateTimeOffset?)null)));
    }

    [TestCase("rvb_000000000000000000000000")]
    [TestCase("not-a-batch")]
    [TestCase("")]
    public async Task An_unknown_or_malformed_id_has_no_progress(string id)
    {
        var f = new PipelineFixture();

        Assert.That(await f.BlockOperations.GetAsync(id), Is.Null);
    }

    [Test]
    public async Task Only_the_latest_blocks_are_remembered_newest_first()
    {
        var f = new PipelineFixture();
        var admin = await f.AdminAuthorization.AuthorizeAsync(f.As(PipelineFixture.Human));
        var ids = new List<string>();
        for (var i = 0; i < BlockOperations.Capacity + 2; i++)
        {
            ids.Add((await f.KillSwitchAdmin.BlockAsync(admin, $"spiffe://example.org/agents/a{i}", "sweep")).Revocations.BatchId);
        }

        var recent = f.BlockOperations.Recent();
        Assert.That(recent, Has.Count.EqualTo(BlockOperations.Capacity));
        Assert.That(recent[0].Id, Is.EqualTo(ids[^1]));
        Assert.That(recent.Select(o => o.Id), Does.Not.Contain(ids[0]).And.Not.Contain(ids[1]));
        Assert.That((await f.BlockOperations.GetAsync(ids[0]))!.Operation, Is.Null, "forgotten here, still counted by the schedule");
    }
}
