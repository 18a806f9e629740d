using System.Globalization;
using JitBroker.Ha.Tests.Harness;
using JitBroker.Redis;
using JitBroker.Redis.Tests.Harness;

namespace JitBroker.LeaseBenchmarks;

/// <summary>
/// What the 600-bytes-per-lease aim would take, measured rather than guessed: writes leases with today's store,
/// then rewrites the data in place, step by step, into cheaper layouts a future store could use, reporting
/// INFO used_memory per lease after each step. Nothing here changes the store; the rewritten data is not
/// readable by it. Steps: (1) drop the <c>ids</c> zset; (2) each lease hash becomes one string, a positional
/// MessagePack array of the same values (Redis' built-in <c>cmsgpack</c>); (3) the per-task sets and per-agent
/// set become one hash per agent, task id → the task's lease ids joined by spaces; (4) the packed records move into
/// bucket hashes of about 80 leases each (field = lease id), which stay listpack-encoded with
/// <c>hash-max-listpack-value 512</c>.
/// </summary>
internal static class LayoutProbe
{
    private static readonly LuaScript PackLeases = new("""
        local ids = redis.call('ZRANGE', KEYS[1], ARGV[2], ARGV[3])
        for _, id in ipairs(ids) do
          local k = ARGV[1] .. 'lease:{' .. id .. '}'
          local h = redis.call('HGETALL', k)
          local values = {}
          for i = 2, #h, 2 do values[#values + 1] = h[i] end
          redis.call('DEL', k)
          redis.call('SET', k, cmsgpack.pack(values))
        end
        return #ids
        """);

    private static readonly LuaScript BucketLeases = new("""
        local ids = redis.call('ZRANGE', KEYS[1], ARGV[2], ARGV[3])
        local buckets = tonumber(ARGV[4])
        for _, id in ipairs(ids) do
          local k = ARGV[1] .. 'lease:{' .. id .. '}'
          local b = tonumber(string.sub(redis.sha1hex(id), 1, 6), 16) % buckets
          redis.call('HSET', ARGV[1] .. 'leases:{' .. b .. '}', id, redis.call('GET', k))
          redis.call('DEL', k)
        end
        return #ids
        """);

    private static readonly LuaScript FoldTaskSets = new("""
        local n = 0
        for a = 0, 499 do
          local agent = 'spiffe://prod.example.org/ns/agents/sa/coder-' .. a
          local akey = ARGV[1] .. 'agent:{' .. agent .. '}'
          local index = ARGV[1] .. 'tasks:{' .. agent .. '}'
          for _, task in ipairs(redis.call('SMEMBERS', akey)) do
            local tkey = ARGV[1] .. 'task:{' .. agent .. '|' .. task .. '}'
            redis.call('HSET', index, task, table.concat(redis.call('SMEMBERS', tkey), ' '))
            redis.call('DEL', tkey)
            n = n + 1
          end
          redis.call('DEL', akey)
        end
        return n
        """);

    public static async Task RunAsync(int count)
    {
        await using var redis = await RedisServerProcess.StartServerAsync();
        await using var ledger = LeaseLedger.Connect(redis.Endpoint);
        var empty = await ledger.UsedMemoryAsync();
        var now = TimeProvider.System.GetUtcNow();
        await ledger.PutManyAsync(count, i => LeaseLedger.NewLease(i, now, now + TimeSpan.FromHours(2) + TimeSpan.FromMilliseconds(i)));
        Console.WriteLine(F($"## Layout probe: {count:N0} leases, INFO used_memory per lease after each step"));
        Console.WriteLine("| layout | bytes per lease |");
        Console.WriteLine("|---|---:|");
        await Report("today's store (hash per lease, due + ids zsets, task and agent sets)");

        await ledger.Redis.ExecuteAsync("DEL", [LeaseLedger.KeyPrefix + "ids"]);
        await Report("(1) without the `ids` zset");

        StackExchange.Redis.RedisKey[] due = [LeaseLedger.KeyPrefix + "due"];
        for (var start = 0; start < count; start += 10_000)
        {
            await ledger.Redis.EvalAsync(PackLeases, due, [LeaseLedger.KeyPrefix, start, start + 9_999]);
        }

        await Report("(1) + (2) lease as one MessagePack string");
        var tasks = (await ledger.Redis.EvalAsync(FoldTaskSets, due, [LeaseLedger.KeyPrefix])).AsInt64();
        await Report(F($"(1) + (2) + (3) one task→leases hash per agent ({tasks:N0} tasks)"));

        // (4) the records themselves in small hashes (~80 per bucket), listpack-encoded once values up to 512 bytes may be.
        await ledger.Redis.ExecuteAsync("CONFIG", ["SET", "hash-max-listpack-value", "512"]);
        for (var start = 0; start < count; start += 10_000)
        {
            await ledger.Redis.EvalAsync(BucketLeases, due, [LeaseLedger.KeyPrefix, start, start + 9_999, Math.Max(1, count / 80)]);
        }

        await Report("(1) + (2) + (3) + (4) records in ~80-lease bucket hashes (hash-max-listpack-value 512)");
        Console.WriteLine();

        async Task Report(string step) =>
            Console.WriteLine(F($"| {step} | {(await ledger.UsedMemoryAsync() - empty) / (double)count:0} |"));
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
