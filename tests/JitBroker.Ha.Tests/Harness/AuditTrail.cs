using System.Text.Json;
using JitBroker.Redis;
using StackExchange.Redis;

namespace JitBroker.Ha.Tests.Harness;

/// <summary>
/// Reads a replica's JSON-lines audit file (see docs/audit.md) while the replica may still be writing it. The
/// JWT issuer's revoke is a no-op, so the audit trail is where a revocation leaves a trace per replica: the
/// revoker writes one <c>lease.revoked</c> event after each revocation it carried out and recorded.
/// </summary>
internal static class AuditTrail
{
    public const string LeaseRevoked = "lease.revoked";

    /// <summary>Lease id → how many events of <paramref name="type"/> name it. A torn last line (a killed writer) is ignored.</summary>
    public static Dictionary<string, int> CountByLease(string path, string type = LeaseRevoked) => CountByLease(ReadLines(path), type);

    /// <summary>The lines of a replica's audit mirror stream (<c>jitbroker:audit:&lt;replica id&gt;</c>), in order.</summary>
    public static async Task<List<string>> StreamLinesAsync(IRedisConnection redis, string replicaId)
    {
        var entries = (await redis.ExecuteAsync("XRANGE", [(RedisKey)(LeaseLedger.KeyPrefix + "audit:" + replicaId), "-", "+"])).AsArray();
        return [.. entries.Select(e => e.AsArray()[1].AsArray()).Select(f => f[3].AsString()!)];
    }

    /// <summary>The lines of an audit file; a torn last line (a killed writer) is left out.</summary>
    public static List<string> FileLines(string path) => [.. ReadLines(path).Where(l => l.EndsWith('}'))];

    public static Dictionary<string, int> CountByLease(IEnumerable<string> lines, string type = LeaseRevoked)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line);
            }
            catch (JsonException)
            {
                continue; // the line being written when the process was killed
            }

            using (document)
            {
                var root = document.RootElement;
                if (root.TryGetProperty("type", out var t) && t.GetString() == type
                    && root.TryGetProperty("lease_id", out var id) && id.GetString() is { } leaseId)
                {
                    counts[leaseId] = counts.GetValueOrDefault(leaseId) + 1;
                }
            }
        }

        return counts;
    }

    /// <summary>Number of <paramref name="type"/> events so far (cheap enough to poll a few times a second).</summary>
    public static int Count(string path, string type = LeaseRevoked)
    {
        var needle = $"\"type\":\"{type}\"";
        return ReadLines(path).Count(l => l.Contains(needle, StringComparison.Ordinal));
    }

    private static IEnumerable<string> ReadLines(string path)
    {
        if (!File.Exists(path))
        {
            yield break;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0)
            {
                yield return line;
            }
        }
    }
}
