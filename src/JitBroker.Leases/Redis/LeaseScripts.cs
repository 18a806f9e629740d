using JitBroker.Redis;

namespace JitBroker.Leases.Redis;

/// <summary>
/// The Lua scripts behind <see cref="RedisLeaseStore"/>: every change that touches more than one key runs as
/// one script, so Redis applies it atomically. Every script works inside one bucket (<see cref="RedisKeyLayout"/>):
/// ARGV[1] is always the bucket's key prefix and KEYS[1] its due set (declared, so the client routes the script to the
/// slot holding the bucket); every other key is derived from ARGV[1] and carries the same hash tag.
/// </summary>
/// <remarks>
/// States travel as digits: 0 active, 1 revoking, 2 revoked, 3 revoke_failed. Times are Unix milliseconds,
/// formatted with <c>%d</c> before they are stored (Lua numbers are doubles and would print as <c>1.7e+12</c>).
/// </remarks>
internal static partial class LeaseScripts
{
    private const string Prelude = """
        local P = ARGV[1]
        local DUE, IDS, REVOKING, FAILED, GONE = KEYS[1], P .. 'ids', P .. 'state:revoking', P .. 'state:failed', P .. 'revoked'
        local function lkey(id) return P .. 'lease:{' .. id .. '}' end
        local function tkey(agent, task) return P .. 'task:{' .. agent .. '|' .. task .. '}' end
        local function ms(n) return string.format('%d', n) end
        local AGENTS, DELEGATED = P .. 'agents', P .. 'delegated'
        local function bkey(b) return P .. 'batch:{' .. b .. '}' end
        local function ckey(id) return P .. 'children:{' .. id .. '}' end
        -- Before a unit of change writes anything, it touches every key it will use in one multi-key command. Outside
        -- a slot migration that is a cheap no-op; while the bucket's slot migrates and any of those keys has moved
        -- (or does not exist yet), Redis refuses that command (ASK / TRYAGAIN) and the script stops before its first
        -- write, so resharding can make a unit fail, never half-apply it. Only hash-tagged (cluster) layouts need it:
        -- a prefix without '{' is the single-Redis layout, which never migrates slots.
        local TAGGED = string.find(P, '{', 1, true) ~= nil
        local function touch(...) if TAGGED then redis.call('EXISTS', DUE, ...) end end
        -- A script that ASK sent to the importing node (its due set had moved) finds there every key not moved yet
        -- absent: Redis serves single-key commands on an importing slot under ASKING. So an empty read is trusted only
        -- after touching the key — during a migration that stops the script, otherwise it is a no-op. A read that finds
        -- something found the moved key itself (MIGRATE moves a key whole), and on the migrating node a read of a key
        -- that has left fails with ASK. Without this, a sweep on the importing node dropped the due entry of a lease
        -- whose hash had not moved yet: an active lease never revoked.
        local function members(k) local m = redis.call('SMEMBERS', k) if not m[1] then touch(k) end return m end
        local function restate(id, from, to, issued)
          if from == to then return end
          if from == '1' then redis.call('ZREM', REVOKING, id) elseif from == '3' then redis.call('ZREM', FAILED, id) end
          if to == '1' then redis.call('ZADD', REVOKING, issued, id) elseif to == '3' then redis.call('ZADD', FAILED, issued, id) end
        end
        local function forget(id)
          local k = lkey(id)
          touch(k, GONE, IDS)
          local f = redis.call('HMGET', k, 'a', 't', 'p', 's')
          if f[4] and f[4] ~= '2' then redis.call('ZREM', GONE, id) return end
          if f[1] then
            local tk, ak = tkey(f[1], f[2]), P .. 'agent:{' .. f[1] .. '}'
            if f[3] then touch(tk, ak, AGENTS, ckey(f[3]), DELEGATED) else touch(tk, ak, AGENTS) end
            redis.call('SREM', tk, id)
            if redis.call('SCARD', tk) == 0 then
              redis.call('SREM', ak, f[2])
              if redis.call('SCARD', ak) == 0 then redis.call('SREM', AGENTS, f[1]) end
            end
            if f[3] then redis.call('SREM', ckey(f[3]), id) redis.call('SREM', DELEGATED, id) end
            redis.call('DEL', k)
          end
          redis.call('ZREM', IDS, id)
          redis.call('ZREM', GONE, id)
        end
        -- Active (0) and failed (3) leases become revoking and due now, so any sweeper claims them at once;
        -- a revoking lease keeps its claim. With a batch id the lease is counted under that batch.
        -- Returns 1 moved, 2 already revoking, 3 revoked, nil missing; and the attempts field.
        local function schedule(id, now, batch)
          local k = lkey(id)
          touch(k, REVOKING, FAILED)
          local f = redis.call('HMGET', k, 's', 'i', 'n')
          if not f[1] then return nil end
          if f[1] == '2' then return 3, f[3] end
          if f[1] == '1' then
            if batch then redis.call('HSET', k, 'b', batch) end
            return 2, f[3]
          end
          restate(id, f[1], '1', f[2])
          if batch then redis.call('HSET', k, 's', '1', 'd', now, 'b', batch) else redis.call('HSET', k, 's', '1', 'd', now) end
          redis.call('ZADD', DUE, now, id)
          return 1, f[3]
        end

        """;

    /// <summary>
    /// ARGV: prefix, id, agent, task, parent or '', expires ms, now ms, agent cap or '', task cap or '', field/value pairs…
    /// (<see cref="LeaseCodec.ToFields"/>: every field but the five this script writes from its leading arguments —
    /// t task, a agent, e and d the expiry, s 0 active — which would otherwise travel twice)
    /// → 1 stored, 0 id taken, -1 parent not active, -2 agent at its cap, -3 task at its cap.
    /// </summary>
    public static readonly LuaScript Put = new(Prelude + CapsPrelude + """
        local id = ARGV[2]
        local k = lkey(id)
        local tk, ak = tkey(ARGV[3], ARGV[4]), P .. 'agent:{' .. ARGV[3] .. '}'
        local la, lt = live_keys(ARGV[3], ARGV[4])
        if ARGV[5] ~= '' then touch(k, tk, ak, AGENTS, IDS, lkey(ARGV[5]), ckey(ARGV[5]), DELEGATED, la, lt) else touch(k, tk, ak, AGENTS, IDS, la, lt) end
        if redis.call('EXISTS', k) == 1 then return 0 end
        if ARGV[5] ~= '' and redis.call('HGET', lkey(ARGV[5]), 's') ~= '0' then return -1 end
        local full = over_cap(la, lt, ARGV[7], ARGV[8], ARGV[9])
        if full then return full end
        redis.call('ZADD', la, ARGV[6], id)
        redis.call('ZADD', lt, ARGV[6], id)
        redis.call('HSET', k, 't', ARGV[4], 'a', ARGV[3], 'e', ARGV[6], 'd', ARGV[6], 's', '0', unpack(ARGV, 10))
        redis.call('SADD', tk, id)
        redis.call('SADD', ak, ARGV[4])
        redis.call('SADD', AGENTS, ARGV[3])
        if ARGV[5] ~= '' then
          redis.call('SADD', ckey(ARGV[5]), id)
          redis.call('SADD', DELEGATED, id)
        end
        redis.call('ZADD', DUE, ARGV[6], id)
        redis.call('ZADD', IDS, 0, id)
        return 1
        """);

    /// <summary>
    /// ARGV: prefix, now ms, cap → [how many leases are due by now, at most cap; the earliest due time (ms), absent when
    /// nothing is scheduled]. Small reply, no ids. Counts with ZRANGEBYSCORE, not ZCOUNT, which the documented ACL lacks.
    /// Also forgets revoked leases whose time has come, as <see cref="ClaimDue"/> does: a sweeper that only peeks (an idle
    /// one) still keeps the ledger bounded.
    /// </summary>
    public static readonly LuaScript DuePeek = new(Prelude + """
        for _, id in ipairs(redis.call('ZRANGEBYSCORE', GONE, '-inf', ARGV[2], 'LIMIT', 0, 256)) do forget(id) end
        local cap, n = tonumber(ARGV[3]), 0
        if cap > 0 then n = #redis.call('ZRANGEBYSCORE', DUE, '-inf', ARGV[2], 'LIMIT', 0, cap) end
        local first = redis.call('ZRANGE', DUE, 0, 0, 'WITHSCORES')
        if first[2] then return { n, tonumber(first[2]) } end
        return { n }
        """);

    /// <summary>ARGV: prefix, id, error, next attempt ms → 1 changed, 0 missing or already revoked.</summary>
    public static readonly LuaScript MarkFailed = new(Prelude + """
        local id = ARGV[2]
        local k = lkey(id)
        touch(k, REVOKING, FAILED)
        local f = redis.call('HMGET', k, 's', 'i', 'b', 'n')
        if not f[1] or f[1] == '2' then return 0 end
        if f[3] then touch(bkey(f[3])) end
        restate(id, f[1], '3', f[2])
        if f[3] and (not f[4] or f[4] == '0') then redis.call('HINCRBY', bkey(f[3]), 'f', 1) end
        redis.call('HINCRBY', k, 'n', 1)
        redis.call('HSET', k, 's', '3', 'le', ARGV[3], 'd', ARGV[4])
        redis.call('ZADD', DUE, ARGV[4], id)
        return 1
        """);

    /// <summary>ARGV: prefix, id, new expiry ms, fingerprint field, fingerprint value, other fingerprint field → fields or nil.</summary>
    public static readonly LuaScript Renew = new(Prelude + CapsPrelude + """
        local k = lkey(ARGV[2])
        local q = redis.call('HMGET', k, 'a', 't')
        if not q[1] then touch(k) return nil end
        local la, lt = live_keys(q[1], q[2])
        touch(k, la, lt)
        if redis.call('HGET', k, 's') ~= '0' then return nil end
        redis.call('HSET', k, 'e', ARGV[3], 'd', ARGV[3], ARGV[4], ARGV[5])
        redis.call('HDEL', k, ARGV[6])
        redis.call('ZADD', DUE, ARGV[3], ARGV[2])
        -- The lease counts against its caps until its new expiry.
        redis.call('ZADD', la, 'XX', ARGV[3], ARGV[2])
        redis.call('ZADD', lt, 'XX', ARGV[3], ARGV[2])
        return redis.call('HGETALL', k)
        """);

    /// <summary>ARGV: prefix, set key → [id, fields, …] of the members still stored; drops members whose lease was forgotten.</summary>
    public static readonly LuaScript FetchSet = new(Prelude + """
        local out = {}
        for _, id in ipairs(members(ARGV[2])) do
          local h = redis.call('HGETALL', lkey(id))
          if #h == 0 then touch(lkey(id)) redis.call('SREM', ARGV[2], id) else out[#out + 1] = id; out[#out + 1] = h end
        end
        return out
        """);

    /// <summary>
    /// ARGV: prefix, agent, task, state, kind, expires-before ms ('' = any), page size, page token, scan budget →
    /// [next token or '', id, fields, …] ordered by lease id.
    /// </summary>
    public static readonly LuaScript List = new(Prelude + """
        local agent, task, st, kind, before = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
        local size, token, budget = tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])
        local out, count, scanned = { '' }, 0, 0
        local function consider(id)
          scanned = scanned + 1
          local h = redis.call('HGETALL', lkey(id))
          if #h == 0 then touch(lkey(id)) redis.call('ZREM', IDS, id) return false end
          local f = {}
          for i = 1, #h, 2 do f[h[i]] = h[i + 1] end
          if (agent ~= '' and f.a ~= agent) or (task ~= '' and f.t ~= task) or (st ~= '' and f.s ~= st)
            or (kind ~= '' and f.k ~= kind) or (before ~= '' and tonumber(f.e) >= tonumber(before)) then return false end
          count = count + 1
          out[#out + 1] = id; out[#out + 1] = h
          return count > size
        end
        local function page_full()
          out[#out] = nil; out[#out] = nil
          out[1] = out[#out - 1]
          return out
        end
        if agent ~= '' then
          local tasks = task ~= '' and { task } or members(P .. 'agent:{' .. agent .. '}')
          local ids = {}
          for _, t in ipairs(tasks) do
            for _, id in ipairs(members(tkey(agent, t))) do
              if token == '' or id > token then ids[#ids + 1] = id end
            end
          end
          table.sort(ids)
          for _, id in ipairs(ids) do
            if consider(id) then return page_full() end
          end
          return out
        end
        local from = token == '' and '-' or '(' .. token
        while true do
          local ids = redis.call('ZRANGEBYLEX', IDS, from, '+', 'LIMIT', 0, 256)
          if #ids == 0 then touch(IDS) return out end
          for _, id in ipairs(ids) do
            if consider(id) then return page_full() end
            if scanned >= budget then out[1] = id return out end
          end
          from = '(' .. ids[#ids]
        end
        """);

    /// <summary>ARGV: prefix → [active, revoking, revoked (still remembered), revoke_failed].</summary>
    public static readonly LuaScript Count = new(Prelude + """
        local function card(k) local n = redis.call('ZCARD', k) if n == 0 then touch(k) end return n end
        local revoking, failed = card(REVOKING), card(FAILED)
        return { card(DUE) - revoking - failed, revoking, card(GONE), failed }
        """);
}
