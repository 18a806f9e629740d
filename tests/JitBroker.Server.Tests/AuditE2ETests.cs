using System.Text.Json;
using System.Text.Json.Nodes;
using JitBroker.Audit;
using JitBroker.Cli;
using JitBroker.Core;
using JitBroker.Protocol.V1;
using Grpc.Core;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Issue 7, audit: one scenario drives every kind of decision and state change through a running broker; the
/// broker's own audit file must show each with its ids and fingerprints and never a token, verify with
/// jitctl against the live JWKS, and betray each of the four kinds of tampering, naming the first bad line.
/// </summary>
[NonParallelizable]
public sealed class AuditE2ETests
{
    private readonly List<string> _secrets = [];
    private PolicyDirectory _policy = null!;
    private BrokerServerFixture _broker = null!;
    private string _auditPath = null!;
    private RequestCredentialResponse _issued = null!;
    private RequestCredentialResponse _revokedByAdmin = null!;
    private RenewCredentialResponse _renewed = null!;
    private string _approvalId = null!;
    private string _badSvid = null!;

    [OneTimeSetUp]
    public async Task RunScenario()
    {
        _policy = new PolicyDirectory().Write("10-agents.yaml", E2E.AnyAgentTicketsPolicy).Write("20-approvals.yaml", E2E.ApprovalPolicy);
        _broker = await BrokerServerFixture.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Admin:Principals:0"] = E2E.AdminPattern,
            ["JitBroker:Admin:Principals:1"] = "spiffe://dev.jitbroker.local/humans/leads/*",
            ["JitBroker:Policy:Path"] = _policy.Path,
            ["JitBroker:Audit:CheckpointEveryEvents"] = "4", // several signed checkpoints in a short scenario
            ["JitBroker:Admission:FailureSummaryInterval"] = "00:00:01", // the failed attestation's summary within the scenario
        });
        _auditPath = Path.Combine(_broker.DataDirectory, "audit.jsonl");
        using var client = _broker.Client();
        using var admin = E2E.Admin(_broker);
        var agent = E2E.Agent("audited");

        _badSvid = _broker.Dev.MintSvid(agent, "someone-else", TimeSpan.FromMinutes(5));
        Assert.ThrowsAsync<RpcException>(() => client.RequestCredentialAsync(_badSvid, E2E.Tickets("au-bad")));

        // Failed attestations are summarised once per interval (issue 17): wait for this one's summary.
        Assert.That(await Eventually.TrueAsync(() => Task.FromResult(File.Exists(_auditPath) && File.ReadAllText(_auditPath).Contains("\"attestation.failures\"", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10)), Is.True, "the failure summary was written");

        var svid = Secret(_broker.Svid(agent));
        Assert.ThrowsAsync<RpcException>(() => client.RequestCredentialAsync(svid, BrokerClient.NewRequest("au-1", "tickets.delete",
            BrokerServerFixture.TicketsAudience, resources: ["tickets/1"])));
        _issued = await client.RequestCredentialAsync(svid, E2E.Tickets("au-1"));
        Secret(_issued.Credential.Token);
        _renewed = await E2E.RenewAsync(_broker, svid, _issued.LeaseId, TimeSpan.FromMinutes(3));
        Secret(_renewed.Credential.Token);
        await client.EndTaskAsync(svid, "au-1");

        _revokedByAdmin = await client.RequestCredentialAsync(Secret(_broker.Svid(agent)), E2E.Tickets("au-2"));
        Secret(_revokedByAdmin.Credential.Token);
        var scheduled = await admin.RevokeAsync(new RevokeLeasesRequest { LeaseId = _revokedByAdmin.LeaseId, Reason = "audit test" });
        // The sweepers revoke what the operator scheduled; wait for it so its lease.revoked is in the log.
        Assert.That(await Eventually.TrueAsync(async () => (await admin.GetRevocationProgressAsync(scheduled.RevocationId)).Done, TimeSpan.FromSeconds(15)), Is.True);

        await admin.BlockAsync(new BlockAgentRequest { Pattern = E2E.Agent("audited-blocked"), Reason = "audit block" });
        await admin.UnblockAsync(new UnblockAgentRequest { Pattern = E2E.Agent("audited-blocked"), Reason = "cleared after review" });

        var pending = await client.RequestCredentialAsync(Secret(_broker.Svid(agent)), E2E.Refund("au-3"));
        _approvalId = pending.PendingApproval.ApprovalId;
        using var lead = E2E.Admin(_broker, E2E.Lead);
        await lead.DecideApprovalAsync(_approvalId, approve: true, "looks right");
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _broker.DisposeAsync();
        _policy.Dispose();
    }

    private string Secret(string value)
    {
        _secrets.Add(value);
        return value;
    }

    private List<JsonElement> Events() =>
        [.. File.ReadAllLines(_auditPath).Select(l => JsonDocument.Parse(l).RootElement).Where(e => e.GetProperty("type").GetString() != "audit.checkpoint")];

    private static string? Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    [Test]
    public void Every_decision_and_state_change_is_an_event_with_its_ids()
    {
        var events = Events();
        var agent = E2E.Agent("audited");
        JsonElement One(string type, Func<JsonElement, bool> where) =>
            events.Where(e => Str(e, "type") == type && where(e)).ToList() is [var single] ? single
                : throw new AssertionException($"expected exactly one {type} event; the log has types: {string.Join(", ", events.Select(e => Str(e, "type")))}");

        var failed = One("attestation.failures", _ => true);
        Assert.That(Str(failed, "credential_fingerprint"), Is.EqualTo(Fingerprints.Of(_badSvid)), "the rejected token is named by fingerprint only");
        Assert.That(Str(failed, "reason"), Is.Not.Null.And.Not.Empty);
        Assert.That(Str(failed, "detail"), Does.StartWith("count=1 ").And.EndWith("samples=" + Fingerprints.Of(_badSvid)));
        Assert.That(Str(failed, "actor"), Is.EqualTo("127.0.0.1"), "counted per peer");

        var denied = One("request.denied", e => Str(e, "task_id") == "au-1");
        Assert.That((Str(denied, "agent_id"), Str(denied, "reason")), Is.EqualTo((agent, "policy.denied")));
        Assert.That(denied.GetProperty("rule_ids").EnumerateArray().Select(r => r.GetString()), Is.EqualTo(new[] { "no-deletes" }));
        Assert.That(denied.GetProperty("intent").GetProperty("action").GetString(), Is.EqualTo("tickets.delete"));

        var issued = One("credential.issued", e => Str(e, "lease_id") == _issued.LeaseId);
        Assert.That((Str(issued, "agent_id"), Str(issued, "task_id")), Is.EqualTo((agent, "au-1")));
        Assert.That(Str(issued, "credential_fingerprint"), Is.EqualTo(Fingerprints.Of(_issued.Credential.Token)));
        Assert.That(issued.GetProperty("rule_ids").EnumerateArray().Select(r => r.GetString()), Is.EqualTo(new[] { "agents-tickets" }));

        var renewed = One("credential.renewed", e => Str(e, "lease_id") == _issued.LeaseId);
        Assert.That(Str(renewed, "credential_fingerprint"), Is.EqualTo(Fingerprints.Of(_renewed.Credential.Token)), "the renewed credential's fingerprint");

        var ended = One("task.ended", e => Str(e, "task_id") == "au-1");
        Assert.That(Str(ended, "agent_id"), Is.EqualTo(agent));
        var revoked = One("lease.revoked", e => Str(e, "lease_id") == _issued.LeaseId);
        Assert.That((Str(revoked, "agent_id"), Str(revoked, "task_id")), Is.EqualTo((agent, "au-1")));
        Assert.That(Str(revoked, "credential_fingerprint"), Is.EqualTo(Fingerprints.Of(_renewed.Credential.Token)));

        var byAdmin = One("lease.revoked", e => Str(e, "lease_id") == _revokedByAdmin.LeaseId);
        Assert.That(Str(byAdmin, "credential_fingerprint"), Is.EqualTo(Fingerprints.Of(_revokedByAdmin.Credential.Token)));
        Assert.That(events.Any(e => Str(e, "type") == "revocation.scheduled" && Str(e, "actor") == E2E.Alice && (Str(e, "detail") ?? "").Contains("audit test")),
            "the operator's revocation names the operator and the reason");

        var blocked = One("agent.blocked", _ => true);
        Assert.That((Str(blocked, "agent_id"), Str(blocked, "actor"), Str(blocked, "detail")), Is.EqualTo((E2E.Agent("audited-blocked"), E2E.Alice, "audit block")));
        Assert.That((Str(One("agent.unblocked", _ => true), "agent_id"), Str(One("agent.unblocked", _ => true), "actor")), Is.EqualTo((E2E.Agent("audited-blocked"), E2E.Alice)));

        var requested = One("approval.requested", e => Str(e, "task_id") == "au-3");
        Assert.That((Str(requested, "agent_id"), Str(requested, "detail")), Is.EqualTo((agent, _approvalId)));
        var decided = One("approval.decided", e => Str(e, "task_id") == "au-3");
        Assert.That((Str(decided, "decision"), Str(decided, "actor"), Str(decided, "agent_id")), Is.EqualTo(("approved", E2E.Lead, agent)));
    }

    [Test]
    public void The_log_never_holds_a_token_or_identity_token()
    {
        var text = File.ReadAllText(_auditPath);
        Assert.That(_secrets, Has.Count.GreaterThanOrEqualTo(6));
        foreach (var secret in _secrets.Append(_badSvid))
        {
            Assert.That(text, Does.Not.Contain(secret));
            Assert.That(text, Does.Not.Contain(secret.Split('.')[2]), "not even a JWT's signature");
        }
    }

    [Test]
    public async Task Jitctl_verifies_the_live_log_chain()
    {
        var verify = await Jitctl.RunAsync(_broker.GrpcUri, null, "audit", "verify", _auditPath, "--json");
        Assert.That(verify.Code, Is.Zero, verify.ToString());
        var result = verify.Json();
        Assert.That(result.GetProperty("ok").GetBoolean(), Is.True);
        Assert.That(result.GetProperty("events_checked").GetInt64(), Is.EqualTo(Events().Count));
        Assert.That(result.GetProperty("checkpoints_seen").GetInt32(), Is.GreaterThanOrEqualTo(2), "the writer signs the head every 4 events");
    }

    [Test]
    public async Task Jitctl_verifies_the_live_log_against_the_audit_jwks()
    {
        var verify = await Jitctl.RunAsync(_broker.GrpcUri, null, "audit", "verify", _auditPath, "--jwks", Jwks());
        Assert.That(verify.Code, Is.Zero, verify.ToString());
        Assert.That(verify.Out, Does.Contain("INTACT").And.Contain("verified against the JWKS"));

        var json = await Jitctl.RunAsync(_broker.GrpcUri, null, "audit", "verify", _auditPath, "--jwks", Jwks(), "--json");
        var result = json.Json();
        Assert.That(result.GetProperty("ok").GetBoolean(), Is.True);
        Assert.That(result.GetProperty("checkpoints_verified").GetInt32(), Is.GreaterThanOrEqualTo(2), "checkpoints signed with the audit key verify");
        Assert.That(result.GetProperty("events_checked").GetInt64(), Is.EqualTo(Events().Count));
    }

    [Test]
    public async Task Checkpoints_are_signed_with_the_audit_key_not_the_token_key_and_verify_with_its_public_pem_alone()
    {
        using var admin = E2E.Admin(_broker);
        await admin.VerifyAuditAsync(); // the writer has checkpointed what the fixture issued
        var tokenJwks = new Uri(_broker.HttpUri, "/.well-known/jwks.json").ToString();

        var withTokenKeys = await Jitctl.RunAsync(_broker.GrpcUri, null, "audit", "verify", _auditPath, "--jwks", tokenJwks, "--json");

        Assert.That(withTokenKeys.Code, Is.EqualTo(1), "a checkpoint is worthless to a verifier that trusts only token keys: " + withTokenKeys);
        var auditKeyPem = await File.ReadAllTextAsync(Path.Combine(_broker.DataDirectory, "audit-signing-key", "signing-key.pem"));
        using var ecdsa = System.Security.Cryptography.ECDsa.Create();
        ecdsa.ImportFromPem(auditKeyPem);
        var publicPem = Path.Combine(_broker.DataDirectory, "..", $"audit-public-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(publicPem, ecdsa.ExportSubjectPublicKeyInfoPem());
        try
        {
            var offline = await Jitctl.RunAsync(_broker.GrpcUri, null, "audit", "verify", _auditPath, "--public-key", publicPem, "--json");
            Assert.That(offline.Code, Is.Zero, offline.ToString());
            Assert.That(offline.Json().GetProperty("checkpoints_verified").GetInt32(), Is.GreaterThanOrEqualTo(1));
        }
        finally
        {
            File.Delete(publicPem);
        }
    }

    [TestCase("edit", "hash_mismatch", 0, 0)]
    [TestCase("delete", "seq_gap", 0, 1)]
    [TestCase("insert", "prev_hash_mismatch", 2, 1)]
    [TestCase("reorder", "seq_out_of_order", 0, 1)]
    public async Task Tampering_a_copy_is_detected_and_the_first_bad_event_named(string how, string kind, int lineOffset, int seqOffset)
    {
        var lines = File.ReadAllLines(_auditPath).ToList();
        // A target in the middle: an event line with at least two lines after it.
        var k = Enumerable.Range(4, lines.Count - 6).First(i => !lines[i - 1].Contains("\"audit.checkpoint\"", StringComparison.Ordinal)
            && !lines[i].Contains("\"audit.checkpoint\"", StringComparison.Ordinal)); // 1-based line number k, seq k
        switch (how)
        {
            case "edit":
                var edited = JsonNode.Parse(lines[k - 1])!.AsObject();
                edited["agent_id"] = E2E.Agent("someone-innocent");
                lines[k - 1] = edited.ToJsonString();
                break;
            case "delete":
                lines.RemoveAt(k - 1);
                break;
            case "insert":
                lines.Insert(k, Forge(lines[k - 1], lines[k]));
                break;
            case "reorder":
                (lines[k - 1], lines[k]) = (lines[k], lines[k - 1]);
                break;
        }

        var copy = Path.Combine(_broker.DataDirectory, $"tampered-{how}.jsonl");
        await File.WriteAllLinesAsync(copy, lines);

        // The chain alone detects each of the four (docs/audit.md); checkpoint signatures are the live-log test's concern.
        var json = await Jitctl.RunAsync(_broker.GrpcUri, null, "audit", "verify", copy, "--json");
        Assert.That(json.Code, Is.EqualTo(1), json.ToString());
        var failure = json.Json().GetProperty("first_failure");
        Assert.That(failure.GetProperty("kind").GetString(), Is.EqualTo(kind), json.Out);
        Assert.That(failure.GetProperty("line_number").GetInt64(), Is.EqualTo(k + lineOffset), json.Out);
        Assert.That(failure.GetProperty("seq").GetInt64(), Is.EqualTo(k + seqOffset), json.Out);

        var text = await Jitctl.RunAsync(_broker.GrpcUri, null, "audit", "verify", copy);
        Assert.That(text.Code, Is.EqualTo(1));
        Assert.That(text.Out, Does.Contain("TAMPERED").And.Contain($"first bad line {k + lineOffset} (seq {k + seqOffset}): {kind}"));
    }

    /// <summary>A forged record placed after <paramref name="before"/>: chained to it, its own hash recomputed — what an attacker without the key can do.</summary>
    private static string Forge(string before, string template)
    {
        var previous = AuditRecord.Parse(before);
        var forged = JsonNode.Parse(template)!.AsObject();
        forged["seq"] = previous.Seq + 1;
        forged["prev_hash"] = previous.Hash;
        forged["type"] = "credential.issued";
        forged["agent_id"] = E2E.Agent("ghost");
        forged["hash"] = new string('0', 64);
        forged["hash"] = AuditRecord.Parse(forged.ToJsonString()).ComputedHash;
        var line = forged.ToJsonString();
        Assert.That(AuditRecord.Parse(line).ComputedHash, Is.EqualTo(AuditRecord.Parse(line).Hash), "the forgery is internally consistent");
        return line;
    }

    [Test]
    public async Task Admin_api_verifies_the_live_log()
    {
        using var admin = E2E.Admin(_broker);
        var verify = await admin.VerifyAuditAsync();
        Assert.That(verify.Ok, Is.True, verify.Problem);
        Assert.That(verify.EventsChecked, Is.GreaterThanOrEqualTo(Events().Count));
        Assert.That(verify.CheckpointsVerified, Is.GreaterThanOrEqualTo(2));
    }

    [Test]
    public async Task Admin_api_tails_the_live_log()
    {
        using var admin = E2E.Admin(_broker);
        var tail = await admin.TailAuditAsync(5);
        Assert.That(tail.Records, Has.Count.EqualTo(5));
        var lastLines = File.ReadAllLines(_auditPath)[^5..];
        Assert.That(tail.Records, Is.EqualTo(lastLines), "the tail is the stored lines, unchanged");
        Assert.That(tail.Records.Select(r => AuditRecord.Parse(r).Seq), Is.Ordered.Ascending);
    }

    [Test]
    public async Task Metrics_and_probes_after_traffic()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var metrics = await http.GetStringAsync(new Uri(_broker.HttpUri, "/metrics"));
        Assert.That(metrics, Does.Contain("jitbroker_requests_total{outcome=\"issued\"}")
            .And.Contain("jitbroker_requests_total{outcome=\"permissiondenied\"}")
            .And.Contain("jitbroker_requests_total{outcome=\"pending\"}")
            .And.Contain("jitbroker_issuance_duration_seconds_bucket")
            .And.Contain("jitbroker_revocations_total")
            .And.Contain("jitbroker_attestation_failures_total")
            .And.Contain("# TYPE jitbroker_requests_total counter")
            .And.Contain("jitbroker_audit_batch_records_bucket")
            .And.Contain("jitbroker_audit_write_duration_seconds_bucket{le=\"0.00025\"}"));

        var ready = await http.GetAsync(new Uri(_broker.HttpUri, "/readyz"));
        Assert.That((int)ready.StatusCode, Is.EqualTo(200));
        Assert.That(await ready.Content.ReadAsStringAsync(), Is.EqualTo("ready"));
        var live = await http.GetAsync(new Uri(_broker.HttpUri, "/healthz"));
        Assert.That((int)live.StatusCode, Is.EqualTo(200));
    }

    private string Jwks() => new Uri(_broker.HttpUri, "/.well-known/audit-jwks.json").ToString();
}
