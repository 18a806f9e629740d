using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Audit.Tests;

/// <summary>
/// The stored line of an event, byte for byte: member order, escaping, redaction, the context map's order and a
/// key collision after redaction. Pinned from the JsonObject-based writer before records were written directly, so a
/// change of writer cannot silently change what verifiers and SIEM rules read or what the hash covers.
/// </summary>
public sealed class RecordFormatTests
{
    private const string Jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLWJ5dGVz";

    private const string Jwt2 = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ5In0.c2lnbmF0dXJlLWJ5dGVz";

    private AuditFixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new AuditFixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    [Test]
    public async Task An_event_with_every_member_is_written_exactly_as_before()
    {
        var lines = await WriteAsync(new AuditEvent
        {
            Type = AuditEventTypes.CredentialIssued,
            AgentId = "spiffe://example.org/agent/a\"b\\c",
            TaskId = "task-é-\u0001-\n",
            Intent = new TaskIntent("tickets.read", "summarize " + Jwt, ["zendesk", "jira"], ["tickets/1", "tickets/2"],
                new Dictionary<string, string>
                {
                    ["zeta"] = "last",
                    ["Alpha"] = "first \ud83d\ude00",
                    ["token " + Jwt] = "key is a credential",
                    ["token " + Jwt + " "] = "hvs.CAESIAbcdefghijklmnopqrstuvwxyz012345",
                    // After redaction these two keys are one: the member appears once, where the first stood, with the last value.
                    ["[redacted " + Fingerprints.Of(Jwt) + "]"] = "literal key",
                    [Jwt] = "credential key",
                    // Sorted after "b" as given, before it once redacted: the line keeps the given order, the hash sorts.
                    [Jwt2] = "second credential key",
                    ["b"] = "",
                }),
            Decision = "allow",
            RuleIds = ["support-read", "r2"],
            LeaseId = "lease-1",
            ParentLeaseId = "lease-0",
            CredentialFingerprint = "sha256:" + new string('a', 64),
            Reason = "policy.allow",
            Detail = "lone \ud800 surrogate",
            Actor = "operator@example.org",
            Owner = "owner@example.org",
            Use = new CredentialUseFacts("zendesk", "read", "tickets/1", "ok",
                new DateTimeOffset(2026, 11, 1, 12, 0, 0, 123, TimeSpan.Zero).AddTicks(4567), "https://tool.example", true),
        });

        Assert.That(lines[0], Is.EqualTo(Expected.EveryMember));
    }

    [Test]
    public async Task An_event_with_only_its_type_is_written_exactly_as_before()
    {
        var lines = await WriteAsync(new AuditEvent { Type = AuditEventTypes.RequestDenied, RuleIds = [] });

        Assert.That(lines[0], Is.EqualTo(Expected.TypeOnly));
    }

    [Test]
    public async Task An_intent_without_context_is_written_exactly_as_before()
    {
        var lines = await WriteAsync(new AuditEvent
        {
            Type = AuditEventTypes.CredentialIssued,
            AgentId = "spiffe://example.org/agent/a",
            Intent = new TaskIntent("tickets.read", "", ["zendesk"], [], new Dictionary<string, string>()),
            RuleIds = ["r1"],
        });

        Assert.That(lines[0], Is.EqualTo(Expected.IntentWithoutContext));
    }

    private async Task<string[]> WriteAsync(AuditEvent auditEvent)
    {
        await using (var log = _f.Log(_f.Options()))
        {
            await log.AppendAsync(auditEvent);
        }

        var lines = _f.ReadLines();
        Assert.That(AuditRecord.Parse(lines[0]).ComputedHash, Is.EqualTo(AuditRecord.Parse(lines[0]).Hash));
        return lines;
    }

    private static class Expected
    {
        public const string EveryMember =
            """
            {"seq":1,"time":"2026-11-01T12:00:00.000000Z","type":"credential.issued","agent_id":"spiffe://example.org/agent/a\"b\\c","task_id":"task-é-\u0001-\n","intent":{"action":"tickets.read","purpose":"summarize [redacted sha256:c444307ad4c1c7d5ab969a8d984270d791751ee629f2936d0c6bc51b57dfef20]","tools":["zendesk","jira"],"resources":["tickets/1","tickets/2"],"context":{"Alpha":"first 😀","[redacted sha256:c444307ad4c1c7d5ab969a8d984270d791751ee629f2936d0c6bc51b57dfef20]":"credential key","b":"","[redacted sha256:e3f4c4df82dd6fa74c39b1f1dca04c1ecb951e89a7affb79920556c0f1e11ae6]":"second credential key","token [redacted sha256:c444307ad4c1c7d5ab969a8d984270d791751ee629f2936d0c6bc51b57dfef20]":"key is a credential","token [redacted sha256:c444307ad4c1c7d5ab969a8d984270d791751ee629f2936d0c6bc51b57dfef20] ":"[redacted sha256:14c3f437c8294e4a86c667a4c75d823fd5c9fd69786b335aae73081f787655de]","zeta":"last"}},"decision":"allow","rule_ids":["support-read","r2"],"lease_id":"lease-1","parent_lease_id":"lease-0","credential_fingerprint":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","reason":"policy.allow","detail":"lone � surrogate","actor":"operator@example.org","owner":"owner@example.org","use":{"tool":"zendesk","action":"read","resource":"tickets/1","outcome":"ok","at":"2026-11-01T12:00:00.123456Z","audience":"https://tool.example","late":true},"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","hash":"ee97ddf203342fcc6593f2b280fed5514d122389c8b10490d03cd08f05b7f7a0"}
            """;

        public const string IntentWithoutContext =
            """
            {"seq":1,"time":"2026-11-01T12:00:00.000000Z","type":"credential.issued","agent_id":"spiffe://example.org/agent/a","intent":{"action":"tickets.read","purpose":"","tools":["zendesk"],"resources":[],"context":{}},"rule_ids":["r1"],"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","hash":"7c0a105f56fcc781610c62de9c868cd2a3b78b9dcf624839b0b94cea15624597"}
            """;

        public const string TypeOnly =
            """
            {"seq":1,"time":"2026-11-01T12:00:00.000000Z","type":"request.denied","rule_ids":[],"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","hash":"a4bd9f719394725cec0551f79204fb2a42a15537bf1aa8ffa9d7b4115faa9dc3"}
            """;
    }
}
