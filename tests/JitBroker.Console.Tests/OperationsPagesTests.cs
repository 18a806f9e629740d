using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using JitBroker.Audit;
using JitBroker.Core;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace JitBroker.Console.Tests;

/// <summary>
/// Issue 21 item 4 over real Kestrel and a real OIDC round trip: overview, leases (filter, revoke), blocks (kill switch with
/// progress, unblock), agent and task pages — operators only, every change audited with the person as actor.
/// </summary>
public sealed partial class OperationsPagesTests
{
    private const string Bot = "spiffe://dev.jitbroker.local/agents/support-bot";
    private const string Other = "spiffe://dev.jitbroker.local/agents/billing-bot";
    private ConsoleBroker _broker = null!;

    [SetUp]
    public async Task SetUp() => _broker = await ConsoleBroker.StartAsync();

    [TearDown]
    public async Task TearDown() => await _broker.DisposeAsync();

    private string Olga => _broker.Provider.Issuer + "#olga";

    private async Task<ConsoleClient> OperatorAsync()
    {
        _broker.Provider.NextPerson = new TestPerson("olga", "olga@corp.example", ["operators"]);
        var client = _broker.NewClient();
        Assert.That((await client.SignInAndGetAsync("/console/")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        return client;
    }

    private async Task<Lease> PutLeaseAsync(string agent, string task, string? owner = "bob@corp.example")
    {
        var now = TimeProvider.System.GetUtcNow();
        var id = "lease-" + Guid.NewGuid().ToString("N");
        var lease = new Lease
        {
            LeaseId = id, TaskId = task, AgentId = agent, IssuerKind = "jwt", BackendHandle = id,
            Scope = new GrantedScope("https://tickets.internal.example", "tickets.read", ["zendesk"], ["tickets/1"]),
            IssuedAt = now, ExpiresAt = now.AddMinutes(10), CredentialFingerprint = new string('a', 64), Owner = owner,
        };
        await _broker.Services.GetRequiredService<ILeaseLedger>().PutAsync(lease);
        return lease;
    }

    private Task<Lease?> LeaseAsync(string id) => _broker.Services.GetRequiredService<ILeaseLedger>().GetAsync(id);

    private static async Task<string> HtmlAsync(HttpResponseMessage response) => await response.Content.ReadAsStringAsync();

    private static string? Attribute(string html, string elementId, string attribute) =>
        Regex.Match(html, $"id=\"{elementId}\"[^>]*?{attribute}=\"([^\"]*)\"") is { Success: true } m ? m.Groups[1].Value : null;

    /// <summary>The audit file's records of one type, once the writer has flushed them.</summary>
    private async Task<List<AuditRecord>> AuditAsync(string type)
    {
        var path = _broker.Services.GetRequiredService<AuditOptions>().Path;
        for (var i = 0; i < 50; i++)
        {
            var found = AuditTrace.ReadRecords(path).Where(r => r.Type == type).ToList();
            if (found.Count > 0)
            {
                return found;
            }

            await Task.Delay(100);
        }

        return [];
    }

    [Test]
    public async Task An_approver_sees_the_overview_but_is_refused_every_operations_page()
    {
        _broker.Provider.NextPerson = new TestPerson("alice", "alice@corp.example", ["approvers"]);
        using var client = _broker.NewClient();
        var overview = await HtmlAsync(await client.SignInAndGetAsync("/console/"));
        Assert.That(overview, Does.Contain("data-page=\"overview\"").And.Contain("id=\"chart-issuance\""));
        Assert.That(overview, Does.Not.Contain("href=\"/console/leases\""), "no operations links for an approver");

        foreach (var path in new[] { "/console/leases", "/console/blocks", "/console/agents/x", "/console/tasks/t" })
        {
            var response = await client.GetAsync(path);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Found), path);
            Assert.That(response.Headers.Location!.AbsolutePath, Is.EqualTo("/console/denied"), path);
        }

        var post = await client.PostAsync("/console/blocks?handler=Block", new Dictionary<string, string> { ["agent"] = Bot, ["confirm"] = Bot, ["reason"] = "x" });
        Assert.That((post.StatusCode, post.Headers.Location?.AbsolutePath), Is.EqualTo((HttpStatusCode.Found, "/console/denied")), "refused before anything runs");
        Assert.That(await _broker.Services.GetRequiredService<IKillSwitch>().ListAsync(), Is.Empty, "an approver blocks nothing");
    }

    [Test]
    public async Task The_overview_shows_five_charts_and_the_deployments_numbers_without_inline_style_or_script()
    {
        await PutLeaseAsync(Bot, "t1");
        await PutLeaseAsync(Bot, "t2");
        using var client = await OperatorAsync();

        var response = await client.GetAsync("/console/");
        var html = await HtmlAsync(response);

        Assert.That(response.Headers.GetValues("Content-Security-Policy").Single(), Does.StartWith("default-src 'none'; style-src 'self';"));
        foreach (var chart in new[] { "chart-issuance", "chart-denials", "chart-approvals", "chart-revocation-lag", "chart-retrying" })
        {
            Assert.That(html, Does.Match($"<figure id=\"{chart}\" class=\"chart\"><svg [^>]*role=\"img\""), chart);
        }

        Assert.That(Attribute(html, "headline-active", "data-value"), Is.EqualTo("2"));
        Assert.That(Attribute(html, "headline-blocks", "data-value"), Is.EqualTo("0"));
        Assert.That(html, Does.Not.Contain("style=").And.Not.Contain("<script"));
        Assert.That(html, Does.Contain("href=\"/console/leases\"").And.Contain("href=\"/console/blocks\""), "operators get the operations links");
    }

    [Test]
    public async Task Leases_filter_by_agent_task_and_revoke_failed_state()
    {
        var a = await PutLeaseAsync(Bot, "t1");
        var b = await PutLeaseAsync(Bot, "t2");
        var c = await PutLeaseAsync(Other, "t1");
        var queue = _broker.Services.GetRequiredService<IRevocationQueue>();
        var now = TimeProvider.System.GetUtcNow();
        Assert.That(await queue.TryClaimAsync(b.LeaseId, now, TimeSpan.FromMinutes(1)), Is.Not.Null);
        await queue.MarkRevokeFailedAsync(b.LeaseId, "vault said 502 <bad gateway>", now.AddHours(1));
        using var client = await OperatorAsync();

        static IEnumerable<string> Rows(string html) => LeaseRow().Matches(html).Select(m => m.Groups[1].Value);
        Assert.That(Rows(await HtmlAsync(await client.GetAsync("/console/leases"))), Is.EquivalentTo(new[] { a.LeaseId, b.LeaseId, c.LeaseId }));
        Assert.That(Rows(await HtmlAsync(await client.GetAsync("/console/leases?agent=" + Uri.EscapeDataString(Bot)))), Is.EquivalentTo(new[] { a.LeaseId, b.LeaseId }));
        Assert.That(Rows(await HtmlAsync(await client.GetAsync("/console/leases?task=t1"))), Is.EquivalentTo(new[] { a.LeaseId, c.LeaseId }));
        var failed = await HtmlAsync(await client.GetAsync("/console/leases?state=revoke_failed"));
        Assert.That(Rows(failed), Is.EqualTo(new[] { b.LeaseId }));
        Assert.That(failed, Does.Contain("vault said 502 &lt;bad gateway&gt;"), "the last error, escaped");

        var bad = await client.GetAsync("/console/leases?state=sideways");
        Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(Attribute(await HtmlAsync(bad), "error", "data-reason"), Is.EqualTo(Reasons.Console.InvalidInput));
    }

    [Test]
    public async Task Revoking_a_lease_needs_the_anti_forgery_token_and_a_reason_and_is_audited_with_the_person()
    {
        var lease = await PutLeaseAsync(Bot, "t1");
        using var client = await OperatorAsync();
        var html = await HtmlAsync(await client.GetAsync("/console/leases"));
        var token = ConsoleClient.AntiforgeryToken(html);
        Assert.That(html, Does.Contain("action=\"/console/leases?handler=Revoke\""));

        var forged = await client.PostAsync("/console/leases?handler=Revoke", new Dictionary<string, string> { ["leaseId"] = lease.LeaseId, ["reason"] = "x" });
        Assert.That(forged.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(Attribute(await HtmlAsync(forged), "error", "data-reason"), Is.EqualTo(Reasons.Console.AntiforgeryInvalid));
        var noReason = await client.PostAsync("/console/leases?handler=Revoke", new Dictionary<string, string>
        {
            ["leaseId"] = lease.LeaseId, ["reason"] = "  ", ["__RequestVerificationToken"] = token,
        });
        Assert.That(noReason.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var unknown = await client.PostAsync("/console/leases?handler=Revoke", new Dictionary<string, string>
        {
            ["leaseId"] = "lease-none", ["reason"] = "x", ["__RequestVerificationToken"] = token,
        });
        Assert.That(Attribute(await HtmlAsync(unknown), "error", "data-reason"), Is.EqualTo(Reasons.LeaseNotFound));
        Assert.That((await LeaseAsync(lease.LeaseId))!.State, Is.EqualTo(LeaseState.Active), "nothing refused changed anything");

        var revoked = await client.PostAsync("/console/leases?handler=Revoke", new Dictionary<string, string>
        {
            ["leaseId"] = lease.LeaseId, ["reason"] = "leaked in a ticket", ["__RequestVerificationToken"] = token,
        });
        var result = await HtmlAsync(revoked);

        Assert.That(revoked.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(Attribute(result, "revoke-result", "data-lease-id"), Is.EqualTo(lease.LeaseId));
        Assert.That(Attribute(result, "revoke-result", "data-scheduled"), Is.EqualTo("1"));
        Assert.That(await EventuallyAsync(async () => (await LeaseAsync(lease.LeaseId))!.State == LeaseState.Revoked), "the sweepers revoked it");
        var scheduled = (await AuditAsync(AuditEventTypes.RevocationScheduled)).Single();
        Assert.That(scheduled.GetString(AuditFields.Actor), Is.EqualTo(Olga));
        Assert.That(scheduled.GetString(AuditFields.Detail), Does.Contain("lease " + lease.LeaseId).And.Contain("leaked in a ticket"));
    }

    [Test]
    public async Task A_block_needs_the_agent_typed_twice_then_shows_its_progress_until_every_lease_is_revoked()
    {
        var leases = new[] { await PutLeaseAsync(Bot, "t1"), await PutLeaseAsync(Bot, "t2"), await PutLeaseAsync(Bot, "t3") };
        var bystander = await PutLeaseAsync(Other, "t1");
        using var client = await OperatorAsync();
        var token = ConsoleClient.AntiforgeryToken(await HtmlAsync(await client.GetAsync("/console/blocks")));

        var mismatch = await client.PostAsync("/console/blocks?handler=Block", new Dictionary<string, string>
        {
            ["agent"] = Bot, ["confirm"] = Bot + "x", ["reason"] = "incident 12", ["__RequestVerificationToken"] = token,
        });
        Assert.That(mismatch.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(Attribute(await HtmlAsync(mismatch), "error", "data-reason"), Is.EqualTo(Reasons.Admin.ConfirmationRequired));
        Assert.That(await _broker.Services.GetRequiredService<IKillSwitch>().ListAsync(), Is.Empty);

        var blocked = await client.PostAsync("/console/blocks?handler=Block", new Dictionary<string, string>
        {
            ["agent"] = Bot, ["confirm"] = Bot, ["reason"] = "incident 12", ["__RequestVerificationToken"] = token,
        });
        Assert.That(blocked.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        var progressPath = blocked.Headers.Location!.OriginalString;
        Assert.That(progressPath, Does.Match("^/console/blocks/rvb_[0-9a-f]{24}$"));

        string page;
        var polls = 0;
        do
        {
            page = await HtmlAsync(await client.GetAsync(progressPath));
            Assert.That(Attribute(page, "block-progress", "data-total"), Is.EqualTo("3"));
            if (Attribute(page, "block-progress", "data-done") == "false")
            {
                Assert.That(page, Does.Contain("<meta http-equiv=\"refresh\" content=\"1\">"), "live while running");
                await Task.Delay(100);
            }
        }
        while (Attribute(page, "block-progress", "data-done") != "true" && ++polls < 100);

        Assert.That(Attribute(page, "block-progress", "data-revoked"), Is.EqualTo("3"));
        Assert.That(Attribute(page, "block-progress", "data-failed"), Is.EqualTo("0"));
        Assert.That(page, Does.Not.Contain("http-equiv=\"refresh\""), "done: no more refreshing");
        Assert.That(page, Does.Contain("id=\"block-pattern\" class=\"mono\">" + Bot + "<"));
        foreach (var lease in leases)
        {
            Assert.That((await LeaseAsync(lease.LeaseId))!.State, Is.EqualTo(LeaseState.Revoked));
        }

        Assert.That((await LeaseAsync(bystander.LeaseId))!.State, Is.EqualTo(LeaseState.Active));
        Assert.That((await AuditAsync(AuditEventTypes.AgentBlocked)).Single().GetString(AuditFields.Actor), Is.EqualTo(Olga));
        var list = await HtmlAsync(await client.GetAsync("/console/blocks"));
        Assert.That(list, Does.Contain($"<tr data-pattern=\"{Bot}\">"));
        Assert.That(list, Does.Contain("data-operation-id=\"" + progressPath["/console/blocks/".Length..] + "\""));
    }

    [Test]
    public async Task Unblocking_needs_a_reason_is_audited_and_an_unknown_block_is_not_found()
    {
        await _broker.Services.GetRequiredService<IKillSwitch>().BlockAsync(new AgentBlock(Bot, "incident", "someone", TimeProvider.System.GetUtcNow()));
        using var client = await OperatorAsync();
        var token = ConsoleClient.AntiforgeryToken(await HtmlAsync(await client.GetAsync("/console/blocks")));

        var noReason = await client.PostAsync("/console/blocks?handler=Unblock", new Dictionary<string, string> { ["pattern"] = Bot, ["reason"] = "", ["__RequestVerificationToken"] = token });
        Assert.That(noReason.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var unknown = await client.PostAsync("/console/blocks?handler=Unblock", new Dictionary<string, string> { ["pattern"] = Other, ["reason"] = "x", ["__RequestVerificationToken"] = token });
        Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(Attribute(await HtmlAsync(unknown), "error", "data-reason"), Is.EqualTo(Reasons.BlockNotFound));

        var lifted = await client.PostAsync("/console/blocks?handler=Unblock", new Dictionary<string, string> { ["pattern"] = Bot, ["reason"] = "false alarm", ["__RequestVerificationToken"] = token });
        Assert.That(Attribute(await HtmlAsync(lifted), "unblock-result", "data-pattern"), Is.EqualTo(Bot));
        Assert.That(await _broker.Services.GetRequiredService<IKillSwitch>().ListAsync(), Is.Empty);
        var audited = (await AuditAsync(AuditEventTypes.AgentUnblocked)).Single();
        Assert.That((audited.GetString(AuditFields.Actor), audited.GetString(AuditFields.Detail)), Is.EqualTo((Olga, "false alarm")));
    }

    [Test]
    public async Task An_unknown_block_operation_is_not_found()
    {
        using var client = await OperatorAsync();

        var response = await client.GetAsync("/console/blocks/rvb_000000000000000000000000");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(Attribute(await HtmlAsync(response), "error", "data-reason"), Is.EqualTo(Reasons.RevocationBatchNotFound));
    }

    [Test]
    public async Task The_agent_page_shows_owner_active_leases_and_recent_decisions()
    {
        var active = await PutLeaseAsync(Bot, "t1", owner: "bob@corp.example");
        var audit = _broker.Services.GetRequiredService<IAuditLog>();
        await audit.AppendAsync(new AuditEvent
        {
            Type = AuditEventTypes.RequestDenied, AgentId = Bot, TaskId = "t9", Decision = "deny", RuleIds = ["no-prod"], Reason = Reasons.PolicyDenied, Owner = "carol@corp.example",
        });
        await audit.AppendAsync(new AuditEvent { Type = AuditEventTypes.RequestDenied, AgentId = Other, TaskId = "t9", Decision = "deny", Reason = Reasons.PolicyDenied });
        using var client = await OperatorAsync();

        var response = await client.GetAsync("/console/agents/" + Uri.EscapeDataString(Bot));
        var html = await HtmlAsync(response);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(html, Does.Contain("data-page=\"agent\"").And.Contain("id=\"agent-id\" class=\"mono\">" + Bot + "<"));
        Assert.That(html, Does.Contain("id=\"agent-owner\">bob@corp.example, carol@corp.example<"));
        Assert.That(html, Does.Contain($"<tr data-lease-id=\"{active.LeaseId}\">"));
        Assert.That(Regex.Matches(html, "<tr data-seq=\"\\d+\" data-type=\"request.denied\">"), Has.Count.EqualTo(1), "only this agent's records");
        Assert.That(html, Does.Contain("rules no-prod"));
        Assert.That(html, Does.Contain("href=\"/console/tasks/t9?agent=" + Uri.EscapeDataString(Bot) + "\""));
    }

    [Test]
    public async Task The_task_page_tells_the_story_with_the_chain_verified_and_withholds_it_when_the_chain_is_tampered()
    {
        var audit = _broker.Services.GetRequiredService<IAuditLog>();
        var intent = new TaskIntent("tickets.refund", "refund order 42", ["refund"], ["order:42"], new Dictionary<string, string>());
        await audit.AppendAsync(new AuditEvent { Type = AuditEventTypes.CredentialIssued, AgentId = Bot, TaskId = "task-42", LeaseId = "lease-42", Intent = intent, Decision = "allow", RuleIds = ["refunds"] });
        await audit.AppendAsync(new AuditEvent { Type = AuditEventTypes.LeaseRevoked, LeaseId = "lease-42" });
        await audit.AppendAsync(new AuditEvent { Type = AuditEventTypes.TaskEnded, AgentId = Bot, TaskId = "task-42" });
        await audit.AppendAsync(new AuditEvent { Type = AuditEventTypes.CredentialIssued, AgentId = Other, TaskId = "task-43", LeaseId = "lease-43" });
        using var client = await OperatorAsync();

        var html = await HtmlAsync(await client.GetAsync("/console/tasks/task-42"));
        Assert.That(Attribute(html, "chain-status", "data-valid"), Is.EqualTo("true"));
        Assert.That(Regex.Matches(html, "<tr data-seq=\"\\d+\" data-type=\"([a-z._]+)\">").Select(m => m.Groups[1].Value),
            Is.EqualTo(new[] { "credential.issued", "lease.revoked", "task.ended" }));
        Assert.That(html, Does.Contain("refund order 42"));

        var missing = await client.GetAsync("/console/tasks/never-was");
        Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(Attribute(await HtmlAsync(missing), "error", "data-reason"), Is.EqualTo(Reasons.TaskNotFound));

        // Someone edits a recorded purpose in place (same length, so the writer's offset is untouched).
        var path = _broker.Services.GetRequiredService<AuditOptions>().Path;
        await using (var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            var bytes = new byte[file.Length];
            await file.ReadExactlyAsync(bytes);
            var text = Encoding.UTF8.GetString(bytes).Replace("refund order 42", "refund order 99", StringComparison.Ordinal);
            file.Position = 0;
            await file.WriteAsync(Encoding.UTF8.GetBytes(text));
        }

        var tampered = await HtmlAsync(await client.GetAsync("/console/tasks/task-42"));
        Assert.That(Attribute(tampered, "chain-status", "data-valid"), Is.EqualTo("false"));
        Assert.That(tampered, Does.Contain("id=\"story-withheld\"").And.Not.Contain("refund order 99"));
        var forced = await HtmlAsync(await client.GetAsync("/console/tasks/task-42?unverified=true"));
        Assert.That(forced, Does.Contain("UNVERIFIED").And.Contain("refund order 99"));
    }

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 100; i++)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(50);
        }

        return false;
    }

    [GeneratedRegex("<tr data-lease-id=\"([^\"]+)\"")]
    private static partial Regex LeaseRow();
}
