using System.Buffers.Text;
using System.Text.Json.Nodes;
using JitBroker.Issuance;

namespace JitBroker.Audit;

/// <summary>
/// Signed chain heads. A checkpoint is itself a chained record (type <c>audit.checkpoint</c>) whose
/// <c>sig</c> is an ES256 signature (base64url of the 64-byte R || S) over the UTF-8 bytes of the JCS form of
/// the statement <c>{"alg","head_hash","head_seq","kid","seq","time","typ"}</c>, where head_seq/head_hash
/// name the record just before the checkpoint and <c>typ</c> is <see cref="StatementType"/> (domain
/// separation: the statement can never be mistaken for anything else the key signs).
/// </summary>
internal static class AuditCheckpoint
{
    public const string StatementType = "jitbroker.audit.checkpoint.v1";

    /// <summary>The members of a new checkpoint record, signed with <paramref name="key"/>.</summary>
    public static JsonObject Body(long seq, DateTimeOffset time, long headSeq, string headHash, SigningKey key)
    {
        var statement = Statement(seq, AuditRecord.FormatTime(time), headSeq, headHash, key.KeyId);
        return new JsonObject
        {
            [AuditFields.Type] = AuditRecordTypes.Checkpoint,
            [AuditFields.HeadSeq] = headSeq,
            [AuditFields.HeadHash] = headHash,
            [AuditFields.KeyId] = key.KeyId,
            [AuditFields.Algorithm] = SigningKey.Es256,
            [AuditFields.Signature] = Base64Url.EncodeToString(key.Sign(statement)),
        };
    }

    /// <summary>The exact bytes a checkpoint signature covers.</summary>
    public static byte[] Statement(long seq, string time, long headSeq, string headHash, string keyId) =>
        CanonicalJson.CanonicalizeUtf8(new JsonObject
        {
            [AuditFields.Algorithm] = SigningKey.Es256,
            [AuditFields.HeadHash] = headHash,
            [AuditFields.HeadSeq] = headSeq,
            [AuditFields.KeyId] = keyId,
            [AuditFields.Seq] = seq,
            [AuditFields.Time] = time,
            ["typ"] = StatementType,
        });

    /// <summary>
    /// Checks a checkpoint record's members against its place in the chain and, when <paramref name="keys"/> is
    /// given, its signature. Returns the problem, or null when the checkpoint holds.
    /// </summary>
    public static string? Check(AuditRecord record, AuditCheckpointKeys? keys)
    {
        var headSeq = record.GetInt64(AuditFields.HeadSeq);
        var headHash = record.GetString(AuditFields.HeadHash);
        var kid = record.GetString(AuditFields.KeyId);
        var sig = record.GetString(AuditFields.Signature);
        if (headSeq != record.Seq - 1 || headHash != record.PrevHash)
        {
            return "its head_seq/head_hash do not name the record before it";
        }

        if (record.GetString(AuditFields.Algorithm) != SigningKey.Es256 || kid is null || sig is null)
        {
            return "it lacks alg ES256, kid or sig";
        }

        if (keys is null)
        {
            return null;
        }

        if (!keys.TryGet(kid, out var key))
        {
            return $"its key {kid} is not in the JWKS";
        }

        byte[] signature;
        try
        {
            signature = Base64Url.DecodeFromChars(sig);
        }
        catch (FormatException)
        {
            return "its sig is not base64url";
        }

        return key.Verify(Statement(record.Seq, record.Time, headSeq.Value, headHash, kid), signature)
            ? null : $"its signature does not verify with key {kid}";
    }
}
