using JitBroker.Redis;

namespace JitBroker.Leases.Redis;

/// <summary>
/// The outbox of revocation records, per bucket: <c>unaudited:&lt;owner&gt;</c> (sorted set, lease id by revoked-at ms) is
/// filled by <see cref="MarkRevoked"/>; <c>unaudited-owners</c> lists owners with entries in the bucket. Under the replicas'
/// prefix: <c>replica:&lt;id&gt;</c> is a replica's heartbeat; <c>recovering:&lt;owner&gt;</c> the current recoverer and
/// <c>recoverers:&lt;owner&gt;</c> every recoverer so far.
/// </summary>
internal static partial class LeaseScripts
{
    private const string OutboxPrelude = """
        local function box(o) return P .. 'unaudited:' .. o end
        local OWNERS = P .. 'unaudited-owners'

        """;

    /// <summary>ARGV: prefix, owner, lease ids… → removed count; an emptied outbox leaves the owners list.</summary>
    public static readonly LuaScript Acknowledge = new(Prelude + OutboxPrelude + """
        touch(box(ARGV[2]), OWNERS)
        local removed = redis.call('ZREM', box(ARGV[2]), unpack(ARGV, 3))
        if redis.call('EXISTS', box(ARGV[2])) == 0 then redis.call('SREM', OWNERS, ARGV[2]) end
        return removed
        """);

    /// <summary>ARGV: replicas prefix, owner, recoverer, hold ms → every recoverer, or nil while the owner lives or another recovers.</summary>
    public static readonly LuaScript BeginRecovery = new(Prelude + """
        local owner, rec = ARGV[2], ARGV[3]
        -- Absent keys are touched before their absence is trusted (see members): KEYS[1] never exists, so during a
        -- migration of this slot recovery waits rather than take over a live owner whose heartbeat has not moved yet.
        if owner ~= rec then
          if redis.call('EXISTS', P .. 'replica:' .. owner) == 1 then return nil end
          touch(P .. 'replica:' .. owner)
        end
        local hold = P .. 'recovering:' .. owner
        local holder = redis.call('GET', hold)
        if not holder then touch(hold) end
        -- A hold counts while its holder lives: a recoverer killed mid-pass must not block the outbox until its hold
        -- runs out. Its records are in its chain, which the next recoverer searches (it stays in the recoverers list).
        if holder and holder ~= rec then
          if redis.call('EXISTS', P .. 'replica:' .. holder) == 1 then return nil end
          touch(P .. 'replica:' .. holder)
        end
        redis.call('SET', hold, rec, 'PX', ARGV[4])
        redis.call('SADD', P .. 'recoverers:' .. owner, rec)
        return redis.call('SMEMBERS', P .. 'recoverers:' .. owner)
        """);

    /// <summary>ARGV: replicas prefix, owner, recoverer, '1' when the owner's outbox is empty → 1.</summary>
    public static readonly LuaScript EndRecovery = new(Prelude + """
        local owner, rec = ARGV[2], ARGV[3]
        local hold = P .. 'recovering:' .. owner
        if redis.call('GET', hold) == rec then redis.call('DEL', hold) end
        if ARGV[4] == '1' then redis.call('DEL', P .. 'recoverers:' .. owner) end
        return 1
        """);
}
