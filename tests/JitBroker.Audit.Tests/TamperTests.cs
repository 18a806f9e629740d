using System.Text.Json.Nodes;
using JitBroker.Issuance;
using NUnit.Framework;

namespace JitBroker.Audit.Tests;

/// <summary>Each way of tampering with the file, named at the right line (docs/audit.md, "What the chain … prove").</summary>
public sealed class TamperTests
{
    private AuditFixture _f = null!;
    private List<string> _lines = null!;

    [SetUp]
    public async Task SetUp()
    {
        _f = new AuditFixture();
        // 10 events with a checkpoint after every 4: lines 1-4 events, 5 checkpoint, 6-9, 10 checkpoint, 11-12, 13 final checkpoint.
        _lines = [.. await _f.WriteLogAsync(10, checkpointEvery: 4)];
    }

    [TearDown]
    public void TearDown() => _f.Dispose();

    [Test]
    public async Task The_untouched_log_verifies_with_every_checkpoint_signature()
    {
        var result = await _f.VerifyAsync(maxUnsigned: 4);
        Assert.That(result.Ok, Is.True);
        Assert.That(result.EventsChecked, Is.EqualTo(10));
        Assert.That(result.CheckpointsVerified, Is.EqualTo(3));
        Assert.That(result.SignedThroughSeq, Is.EqualTo(12));
        Assert.That(result.UnsignedTailEvents, Is.Zero);
    }

    [Test]
    public async Task An_edited_field_is_a_hash_mismatch_at_that_line()
    {
        _lines[6] = _lines[6].Replace("\"decision\":\"allow\"", "\"decision\":\"deny\"", StringComparison.Ordinal);
        await AssertFirstFailure(AuditFailureKind.HashMismatch, line: 7, seq: 7);
    }

    [Test]
    public async Task A_deleted_line_is_a_seq_gap_at_the_line_after_the_hole()
    {
        _lines.RemoveAt(5); // seq 6
        var failure = await AssertFirstFailure(AuditFailureKind.SeqGap, line: 6, seq: 7);
        Assert.That(failure.Message, Does.Contain("1 record(s) are missing"));
    }

    [Test]
    public async Task Lines_deleted_from_the_start_are_a_seq_gap_at_line_1()
    {
        _lines.RemoveRange(0, 2);
        await AssertFirstFailure(AuditFailureKind.SeqGap, line: 1, seq: 3);
    }

    [Test]
    public async Task A_forged_line_with_a_recomputed_hash_is_caught_by_the_next_lines_prev_hash()
    {
        var forged = Forgery.After(_lines[5]); // after seq 6
        Assert.That(forged.ComputedHash, Is.EqualTo(forged.Hash), "the forgery is self-consistent");
        _lines.Insert(6, forged.Line);

        var failure = await AssertFirstFailure(AuditFailureKind.PrevHashMismatch, line: 8, seq: 7);
        Assert.That(failure.Message, Does.Contain("inserted"));
    }

    [Test]
    public async Task Two_swapped_lines_are_out_of_order_at_the_first_moved_line()
    {
        (_lines[2], _lines[3]) = (_lines[3], _lines[2]);
        var failure = await AssertFirstFailure(AuditFailureKind.SeqOutOfOrder, line: 3, seq: 4);
        Assert.That(failure.Message, Does.Contain("reordered"));
    }

    [Test]
    public async Task A_torn_last_line_is_malformed()
    {
        File.WriteAllText(_f.LogPath, string.Concat(_lines.Select(l => l + "\n")) + _lines[0][..40]);
        var result = await _f.VerifyAsync();
        Assert.That(result.FirstFailure, Is.EqualTo(new AuditVerificationFailure(AuditFailureKind.MalformedLine, 14, null,
            "the last line is incomplete (no final newline): a write was interrupted or the file was cut")));
        Assert.That(result.LastSeq, Is.EqualTo(13));

        using var keys = _f.JwksKeys();
        var live = await new AuditVerifier(new AuditVerifierOptions { Keys = keys, AllowIncompleteLastLine = true }).VerifyFileAsync(_f.LogPath);
        Assert.That((live.Ok, live.LastSeq), Is.EqualTo((true, 13L)), "a write in progress on a live file");
    }

    [Test]
    public async Task Garbage_and_duplicate_members_are_malformed()
    {
        _lines[1] = "{\"seq\":2,\"seq\":2}";
        await AssertFirstFailure(AuditFailureKind.MalformedLine, line: 2, seq: null);
        _lines[1] = "not json";
        await AssertFirstFailure(AuditFailureKind.MalformedLine, line: 2, seq: null);
    }

    [Test]
    public async Task A_rewrite_without_the_key_breaks_the_next_checkpoint_signature()
    {
        // Rewrite event 2 and re-chain everything after it with recomputed hashes, checkpoints included.
        var records = _lines.Select(l => AuditRecord.Parse(l).ToJson()).ToList();
        records[1]["detail"] = "forged";
        var rewritten = Forgery.Rechain(records);

        WriteAndAssertChainOnlyOk(rewritten);
        var result = await _f.VerifyAsync();
        Assert.That(result.FirstFailure!.Kind, Is.EqualTo(AuditFailureKind.BadCheckpoint));
        Assert.That(result.FirstFailure.LineNumber, Is.EqualTo(5));
        Assert.That(result.FirstFailure.Message, Does.Contain("signature does not verify"));
    }

    [Test]
    public async Task A_rewrite_that_drops_the_checkpoints_fails_only_with_max_unsigned()
    {
        var records = _lines.Select(l => AuditRecord.Parse(l).ToJson()).Where(r => (string)r["type"]! != AuditRecordTypes.Checkpoint).ToList();
        WriteAndAssertChainOnlyOk(Forgery.Rechain(records));

        Assert.That((await _f.VerifyAsync()).Ok, Is.True, "documented non-guarantee without --max-unsigned");
        var strict = await _f.VerifyAsync(maxUnsigned: 4);
        Assert.That(strict.FirstFailure!.Kind, Is.EqualTo(AuditFailureKind.UnsignedRun));
        Assert.That(strict.FirstFailure.Seq, Is.EqualTo(5));
    }

    [Test]
    public async Task A_checkpoint_signed_by_another_key_or_absent_from_the_jwks_is_refused()
    {
        using var other = SigningKey.Generate();
        var records = _lines.Select(l => AuditRecord.Parse(l).ToJson()).ToList();
        var cp = records[4];
        var resigned = AuditCheckpoint.Body((long)cp["seq"]!, DateTimeOffset.Parse((string)cp["time"]!, System.Globalization.CultureInfo.InvariantCulture),
            (long)cp["head_seq"]!, (string)cp["head_hash"]!, other);
        resigned["kid"] = (string)cp["kid"]!; // claim the broker's kid, sign with another key
        foreach (var (k, v) in resigned.ToList())
        {
            cp[k] = v?.DeepClone();
        }

        WriteAndAssertChainOnlyOk(Forgery.Rechain(records));
        var result = await _f.VerifyAsync();
        Assert.That(result.FirstFailure, Is.Not.Null);
        Assert.That((result.FirstFailure!.Kind, result.FirstFailure.LineNumber), Is.EqualTo((AuditFailureKind.BadCheckpoint, 5L)));

        using var unrelated = AuditCheckpointKeys.FromJwks(JwksDocument.Build(new StaticSigningKeyProvider(SigningKey.Generate())));
        _f.WriteLines(_lines);
        var unknownKey = await new AuditVerifier(new AuditVerifierOptions { Keys = unrelated }).VerifyFileAsync(_f.LogPath);
        Assert.That(unknownKey.FirstFailure!.Message, Does.Contain("is not in the JWKS"));
    }

    [Test]
    public async Task Cutting_the_tail_is_not_detectable_from_the_file_alone_as_documented()
    {
        // After the last checkpoint only: still intact, signed through the same head.
        _f.WriteLines(_lines.Take(12));
        var cut = await _f.VerifyAsync();
        Assert.That((cut.Ok, cut.LastSeq, cut.SignedThroughSeq, cut.UnsignedTailEvents), Is.EqualTo((true, 12L, (long?)9, 2L)));

        // Through checkpoints too: any prefix of a valid log is a valid log.
        _f.WriteLines(_lines.Take(3));
        var deep = await _f.VerifyAsync(maxUnsigned: 4);
        Assert.That((deep.Ok, deep.LastSeq, deep.SignedThroughSeq), Is.EqualTo((true, 3L, (long?)null)));

        // What the result offers to catch it: LastSeq/LastHash to compare with a copy held elsewhere.
        Assert.That(deep.LastHash, Is.EqualTo(AuditRecord.Parse(_lines[2]).Hash));
    }

    [Test]
    public async Task Without_keys_the_chain_is_checked_and_signatures_are_reported_unchecked()
    {
        var result = await new AuditVerifier().VerifyFileAsync(_f.LogPath);
        Assert.That((result.Ok, result.SignaturesChecked, result.CheckpointsSeen, result.CheckpointsVerified), Is.EqualTo((true, false, 3, 0)));
    }

    private async Task<AuditVerificationFailure> AssertFirstFailure(AuditFailureKind kind, long line, long? seq)
    {
        _f.WriteLines(_lines);
        var result = await _f.VerifyAsync();
        Assert.That(result.Ok, Is.False);
        Assert.That((result.FirstFailure!.Kind, result.FirstFailure.LineNumber, result.FirstFailure.Seq), Is.EqualTo((kind, line, seq)),
            result.FirstFailure.Message);
        return result.FirstFailure;
    }

    private void WriteAndAssertChainOnlyOk(IEnumerable<string> lines)
    {
        _f.WriteLines(lines);
        var chainOnly = new AuditVerifier().VerifyFileAsync(_f.LogPath).GetAwaiter().GetResult();
        Assert.That(chainOnly.Ok, Is.True, "the forger recomputed every hash: " + chainOnly.FirstFailure?.Message);
    }
}
