using System.Text.Json.Nodes;

namespace JitBroker.Audit.Tests;

/// <summary>What an attacker without the signing key can do: build self-consistent records and re-chain a log.</summary>
internal static class Forgery
{
    /// <summary>A forged event that chains correctly onto <paramref name="previousLine"/> (same seq as the real next one).</summary>
    public static AuditRecord After(string previousLine)
    {
        var before = AuditRecord.Parse(previousLine);
        return AuditRecord.Create(before.Seq + 1, DateTimeOffset.Parse(before.Time, System.Globalization.CultureInfo.InvariantCulture),
            before.Hash, AuditFixture.Issued(99));
    }

    /// <summary>Renumbers and re-hashes records (checkpoint heads follow the new chain; signatures cannot).</summary>
    public static List<string> Rechain(List<JsonObject> records)
    {
        var lines = new List<string>();
        var prev = AuditRecord.GenesisHash;
        for (var i = 0; i < records.Count; i++)
        {
            var r = records[i];
            r["seq"] = i + 1;
            r["prev_hash"] = prev;
            if ((string)r["type"]! == AuditRecordTypes.Checkpoint)
            {
                r["head_seq"] = i;
                r["head_hash"] = prev;
            }

            r.Remove("hash");
            r["hash"] = AuditRecord.ComputeHash(r);
            prev = (string)r["hash"]!;
            lines.Add(CanonicalJson.Serialize(r));
        }

        return lines;
    }
}
