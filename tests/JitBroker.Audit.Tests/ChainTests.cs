using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Audit.Tests;

public sealed class ChainTests
{
    private AuditFixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new AuditFixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    [Test]
    public async Task Records_carry_seq_time_and_a_hash_over_the_jcs_form_chained_from_genesis()
    {
        var lines = await _f.WriteLogAsync(3);

        Assert.That(lines, Has.Length.EqualTo(4), "3 events + the final checkpoint");
        var first = JsonNode.Parse(lines[0])!.AsObject();
        Assert.That((long)first["seq"]!, Is.EqualTo(1));
        Assert.That((string)first["time"]!, Is.EqualTo("2026-11-01T12:00:00.000000Z"));
        Assert.That((string)first["type"]!, Is.EqualTo(AuditEventTypes.CredentialIssued));
        Assert.That((string)first["prev_hash"]!, Is.EqualTo(new string('0', 64)));
        Assert.That((string)first["intent"]!["action"]!, Is.EqualTo("tickets.read"));

        // Independent recomputation: sorted members, no whitespace, hash member removed.
        var hash = (string)first["hash"]!;
        first.Remove("hash");
        var canonical = Canonical(first);
        Assert.That(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical))), Is.EqualTo(hash));

        var second = AuditRecord.Parse(lines[1]);
        Assert.That(second.PrevHash, Is.EqualTo(hash));
        Assert.That(second.Time, Is.EqualTo("2026-11-01T12:00:00.250000Z"), "time comes from the injected clock");
    }

    [Test]
    public void Canonical_form_follows_rfc8785_for_strings_and_member_order()
    {
        var obj = new JsonObject { ["b"] = "é\"\\\n\u0001<>&'", ["a"] = 5, ["\u00e9"] = true, ["A"] = new JsonArray("x", null) };

        Assert.That(CanonicalJson.Canonicalize(obj), Is.EqualTo("{\"A\":[\"x\",null],\"a\":5,\"b\":\"é\\\"\\\\\\n\\u0001<>&'\",\"é\":true}"));
        Assert.Throws<FormatException>(() => CanonicalJson.Canonicalize(JsonNode.Parse("{\"a\":1.5}")));
        Assert.Throws<FormatException>(() => CanonicalJson.Canonicalize(JsonNode.Parse("{\"a\":1e3}")));
        Assert.Throws<FormatException>(() => CanonicalJson.Canonicalize(new JsonObject { ["a"] = "\ud800" }));
        // A tampered line may hold any number: each is refused with FormatException, never an overflow.
        Assert.Throws<FormatException>(() => CanonicalJson.Canonicalize(JsonNode.Parse("{\"a\":-0}")));
        Assert.Throws<FormatException>(() => CanonicalJson.Canonicalize(JsonNode.Parse("{\"a\":-9223372036854775808}")));
        Assert.Throws<FormatException>(() => CanonicalJson.Canonicalize(JsonNode.Parse("{\"a\":9007199254740992}")));
        Assert.Throws<FormatException>(() => CanonicalJson.Canonicalize(new JsonObject { ["a"] = long.MinValue }));
        Assert.That(CanonicalJson.Canonicalize(new JsonObject { ["a"] = -9_007_199_254_740_991L }), Is.EqualTo("{\"a\":-9007199254740991}"));
    }

    [Test]
    public async Task Chain_continues_across_restarts_without_a_second_genesis()
    {
        await _f.WriteLogAsync(3);
        var before = _f.ReadLines();
        await using (var log = _f.Log(_f.Options()))
        {
            await log.AppendAsync(AuditFixture.Issued(4));
            Assert.That(log.Head!.Value.Seq, Is.EqualTo(5));
        }

        var after = _f.ReadLines();
        Assert.That(after[..before.Length], Is.EqualTo(before), "existing lines are never rewritten");
        var appended = AuditRecord.Parse(after[before.Length]);
        Assert.That(appended.Seq, Is.EqualTo(5));
        Assert.That(appended.PrevHash, Is.EqualTo(AuditRecord.Parse(before[^1]).Hash));
        var result = await _f.VerifyAsync();
        Assert.That(result.Ok, Is.True, result.FirstFailure?.Message);
        Assert.That(result.EventsChecked, Is.EqualTo(4));
        Assert.That(result.CheckpointsVerified, Is.EqualTo(2), "one at each clean shutdown");
    }

    [Test]
    public async Task A_log_that_died_unsigned_is_signed_at_the_next_start()
    {
        var options = _f.Options();
        var sink = new AuditFileSink(options);
        var crashed = _f.Log(options, sink);
        for (var i = 1; i <= 5; i++)
        {
            await crashed.AppendAsync(AuditFixture.Issued(i));
        }

        await sink.DisposeAsync(); // the process "dies": no final checkpoint, the file lock is released

        await using (var log = _f.Log(options))
        {
            await log.StartAsync();
        }

        var records = _f.ReadLines().Select(AuditRecord.Parse).ToList();
        Assert.That(records[5].IsCheckpoint, Is.True);
        Assert.That(records[5].GetInt64(AuditFields.HeadSeq), Is.EqualTo(5));
        Assert.That(records, Has.Count.EqualTo(6), "no events since, so no second checkpoint at shutdown");
        Assert.That((await _f.VerifyAsync(maxUnsigned: 1000)).Ok, Is.True);
        await crashed.DisposeAsync();
    }

    [Test]
    public async Task Concurrent_appends_from_16_tasks_give_one_contiguous_valid_chain()
    {
        await using (var log = _f.Log(_f.Options(checkpointEvery: 100)))
        {
            await Task.WhenAll(Enumerable.Range(0, 16).Select(t => Task.Run(async () =>
            {
                for (var i = 0; i < 62 + (t < 8 ? 1 : 0); i++)
                {
                    await log.AppendAsync(AuditFixture.Issued((t * 1000) + i));
                }
            })));
        }

        var records = _f.ReadLines().Select(AuditRecord.Parse).ToList();
        Assert.That(records.Select(r => r.Seq), Is.EqualTo(Enumerable.Range(1, records.Count).Select(i => (long)i)));
        Assert.That(records.Count(r => !r.IsCheckpoint), Is.EqualTo(1000));
        Assert.That(records.Count(r => r.IsCheckpoint), Is.EqualTo(10), "every 100 events; the 1000th is followed by one");
        var result = await _f.VerifyAsync(maxUnsigned: 100);
        Assert.That(result.Ok, Is.True, result.FirstFailure?.Message);
        Assert.That(result.EventsChecked, Is.EqualTo(1000));
    }

    [Test]
    public async Task Checkpoints_follow_every_N_events_and_the_interval_on_the_fake_clock()
    {
        await using var log = _f.Log(_f.Options(checkpointEvery: 3));
        for (var i = 1; i <= 4; i++)
        {
            await log.AppendAsync(AuditFixture.Issued(i));
        }

        var types = _f.ReadLines().Select(l => AuditRecord.Parse(l).Type).ToList();
        Assert.That(types.Count(t => t == AuditRecordTypes.Checkpoint), Is.EqualTo(1));
        Assert.That(AuditRecord.Parse(_f.ReadLines()[3]).IsCheckpoint, Is.True, "right after the third event");

        _f.Clock.Advance(TimeSpan.FromSeconds(29));
        await log.FlushAsync();
        Assert.That(_f.ReadLines(), Has.Length.EqualTo(5), "interval not reached yet");
        _f.Clock.Advance(TimeSpan.FromSeconds(1));
        await log.FlushAsync();
        var last = AuditRecord.Parse(_f.ReadLines()[^1]);
        Assert.That(last.IsCheckpoint, Is.True, "30 s interval elapsed with one unsigned event");
        Assert.That(last.GetInt64(AuditFields.HeadSeq), Is.EqualTo(5));

        _f.Clock.Advance(TimeSpan.FromSeconds(30));
        await log.FlushAsync();
        Assert.That(_f.ReadLines(), Has.Length.EqualTo(6), "no events since the last checkpoint: nothing to sign");
    }

    [Test]
    public async Task Reserved_and_malformed_event_types_are_refused()
    {
        await using var log = _f.Log(_f.Options());
        var reserved = Assert.ThrowsAsync<BrokerException>(async () => await log.AppendAsync(new AuditEvent { Type = AuditRecordTypes.Checkpoint }));
        Assert.That(reserved!.Reason, Is.EqualTo(Reasons.Audit.EventInvalid));
        Assert.ThrowsAsync<BrokerException>(async () => await log.AppendAsync(new AuditEvent { Type = "Credential Issued" }));
    }

    private static string Canonical(JsonNode? node) => node switch
    {
        JsonObject o => "{" + string.Join(",", o.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => System.Text.Json.JsonSerializer.Serialize(p.Key) + ":" + Canonical(p.Value))) + "}",
        JsonArray a => "[" + string.Join(",", a.Select(Canonical)) + "]",
        null => "null",
        _ => node.ToJsonString(new System.Text.Json.JsonSerializerOptions
        {
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }),
    };
}
