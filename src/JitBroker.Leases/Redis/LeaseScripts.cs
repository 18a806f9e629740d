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
        -- s, issued: the lease's 's' and 'i' fields when the caller has read them already (one HMGET fewer). Nil for a
        -- missing lease and for a revoked one: a revoked lease is never claimed (that would make it revoking again).
        local function claim(id, deadline, s, issued)
          local k = lkey(id)
          touch(k, REVOKING, FAILED)
          if not s then
            local f = redis.call('HMGET', k, 's', 'i')
            s, issued = f[1], f[2]
          end
          if not s or s == '2' then return nil end
          restate(id, s, '1', issued)
          redis.call('HSET', k, 's', '1', 'd', deadline)
          redis.call('ZADD', DUE, deadline, id)
          return redis.call('HGETALL', k)
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
    /// ARGV: prefix, now ms, max, claim deadline ms[, retention ms, audit owner or '', issuer kinds…] → [id, fields, id,
    /// fields, …] in due order. With issuer kinds, a due lease of one of them is not claimed but marked revoked at now as
    /// <see cref="MarkRevoked"/> marks it (its fields then say state 2).
    /// </summary>
    public static readonly LuaScript ClaimDue = new(Prelude + CapsPrelude + MarkPrelude + """
        for _, id in ipairs(redis.call('ZRANGEBYSCORE', GONE, '-inf', ARGV[2], 'LIMIT', 0, 256)) do forget(id) end
        local ledger = ledger_args(ARGV[2], 5)
        local out = {}
        for _, id in ipairs(redis.call('ZRANGEBYSCORE', DUE, '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))) do
          -- One read decides between a ledger revocation and a claim and serves either. A revoked lease is never due: an
          -- entry for one is stale, and neither the ledger revocation nor the claim takes it, so it is dropped.
          local f, fields = mark_fields(id), nil
          if f[1] then
            if ledger and ledger.kinds[f[8] or ''] then fields = ledger_revoke(id, ledger, f) end
            if not fields then fields = claim(id, ARGV[4], f[1], f[3]) end
          end
          if fields then out[#out + 1] = id; out[#out + 1] = fields else redis.call('ZREM', DUE, id) end
        end
        return out
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

    /// <summary>ARGV: prefix, id, claim deadline ms → fields, or nil when missing or revoked.</summary>
    public static readonly LuaScript TryClaim = new(Prelude + """
        local k = lkey(ARGV[2])
        local f = redis.call('HMGET', k, 's', 'i')
        if not f[1] then touch(k) return nil end
        return claim(ARGV[2], ARGV[3], f[1], f[2])
        """);

    /// <summary>
    /// ARGV: prefix, claim deadline ms, root ids… → [id, fields, id, fields, …]: the roots, then their descendants breadth
    /// first (each lease's children in id order), each once; fields are empty for a lease already revoked, and a missing
    /// lease is left out. Each lease that is not revoked is claimed as <see cref="TryClaim"/> does. EndTask's
    /// whole delegation tree in one round trip, instead of a child lookup per lease and level and a claim per lease.
    /// </summary>
    public static readonly LuaScript ClaimTrees = new(Prelude + CapsPrelude + MarkPrelude + ClaimTreesPrelude + """
        local roots = {}
        for i = 3, #ARGV do roots[#roots + 1] = ARGV[i] end
        return claim_trees(roots, ARGV[2], nil)
        """);

    /// <summary>
    /// ARGV: prefix, claim deadline ms, agent, task, the task's index key, now ms[, retention ms, audit owner or '', issuer
    /// kinds…] → [[root id, issued ms, …] in issue order (then id), [id, fields, id, fields, …] as <see cref="ClaimTrees"/>
    /// returns for those roots]. The roots are the leases of this bucket the agent holds for the task (any state; an index
    /// entry whose lease is gone or belongs to another agent|task pair that joins to the same key is skipped). EndTask's
    /// listing and tree claim in one round trip. With issuer kinds, a walked lease of one of them is not claimed but marked
    /// revoked at now as <see cref="MarkRevoked"/> marks it (its fields then say state 2).
    /// </summary>
    public static readonly LuaScript ClaimTask = new(Prelude + CapsPrelude + MarkPrelude + ClaimTreesPrelude + """
        -- The root check reads what the walk needs (mark_fields: a is [6], t [7], i [3]), and the walk uses it.
        local found, read = {}, {}
        for _, id in ipairs(members(ARGV[5])) do
          local f = mark_fields(id)
          if f[6] == ARGV[3] and f[7] == ARGV[4] then
            found[#found + 1] = { tonumber(f[3]) or 0, id }
            read[id] = f
          end
        end
        table.sort(found, function(x, y) if x[1] ~= y[1] then return x[1] < y[1] end return x[2] < y[2] end)
        local roots, order = {}, {}
        for _, r in ipairs(found) do
          roots[#roots + 1] = r[2]
          order[#order + 1] = r[2]
          order[#order + 1] = ms(r[1])
        end
        return { order, claim_trees(roots, ARGV[2], ledger_args(ARGV[6], 7), read) }
        """);

    // The walk shared by ClaimTrees and ClaimTask: each root, then the descendants breadth first (each lease's children in
    // id order), each once; a lease not revoked is claimed — or, with a ledger revocation (ledger_args) and of one of its
    // kinds, marked revoked (ledger_revoke) — a revoked one listed with empty fields, a missing one left out.
    private const string ClaimTreesPrelude = """
        -- read: mark_fields the caller read before this walk wrote anything, by id (or nil). Only a lease's own step and
        -- its parent's (a ledger revocation schedules the children) write to it, so an entry is dropped when its parent
        -- is walked: fields read before a write are never used after it.
        local function claim_trees(roots, deadline, ledger, read)
          read = read or {}
          local seen, queue, out = {}, {}, {}
          for _, id in ipairs(roots) do
            if not seen[id] then seen[id] = true queue[#queue + 1] = id end
          end
          local i = 1
          while i <= #queue do
            local id = queue[i]
            i = i + 1
            local f = read[id] or mark_fields(id)
            local s = f[1]
            if s then
              out[#out + 1] = id
              local fields, children
              if s == '2' then
                fields = {}
              elseif ledger and f[8] and ledger.kinds[f[8]] then
                fields, children = ledger_revoke(id, ledger, f)
              end
              out[#out + 1] = fields or claim(id, deadline, s, f[3])
              -- The ledger revocation read the children already (the mark leaves the set as it was).
              children = children or members(ckey(id))
              table.sort(children)
              for _, c in ipairs(children) do
                read[c] = nil
                if not seen[c] then seen[c] = true queue[#queue + 1] = c end
              end
            end
          end
          return out
        end

        """;

    /// <summary>
    /// ARGV: prefix, revoked-at ms, retention ms, audit owner or '', ids… → per id 1 changed, 0 missing or already revoked.
    /// With an owner each changed lease enters that owner's outbox (see <see cref="RedisLeaseStore"/>'s IRevocationOutbox)
    /// in this same step.
    /// </summary>
    public static readonly LuaScript MarkRevoked = new(Prelude + CapsPrelude + MarkPrelude + """
        local revokedAt, keep, owner = ARGV[2], tonumber(ARGV[3]), ARGV[4]
        -- First every read and touch, then every write: a lease whose keys are migrating fails the whole call
        -- before anything is written (see touch).
        local found = {}
        for i = 5, #ARGV do found[i] = mark_read(ARGV[i], owner) end
        local out = {}
        for i = 5, #ARGV do
          if found[i] then
            mark_write(ARGV[i], found[i], revokedAt, keep, owner)
            out[#out + 1] = 1
          else
            out[#out + 1] = 0
          end
        end
        return out
        """);

    // Marking a lease revoked, in two halves: MarkRevoked reads and touches every lease before it writes any; ClaimTask's
    // ledger revocations do both halves for one lease at a time, as its claims do. mark_read → nil for a missing or already
    // revoked lease, else what mark_write needs (the fields it reads and the children).
    private const string MarkPrelude = """
        -- What mark_read reads, then the issuer kind ('k'): a script that reads a lease to choose between a ledger
        -- revocation and a claim passes these fields on instead of reading them again. Each redis.call costs a script
        -- a few microseconds beyond the command's own work, which is most of a sweep's Redis time per lease.
        -- An absent lease is touched before anyone trusts its absence (see members).
        local function mark_fields(id)
          local k = lkey(id)
          local f = redis.call('HMGET', k, 's', 'e', 'i', 'b', 'n', 'a', 't', 'k')
          if not f[1] then touch(k) end
          return f
        end
        -- Owners this script has listed in unaudited-owners already: once per owner and script, not once per lease.
        local listed_owners = {}
        local function mark_read(id, owner, f)
          local k = lkey(id)
          if owner ~= '' then touch(k, REVOKING, FAILED, GONE, ckey(id), P .. 'unaudited:' .. owner, P .. 'unaudited-owners') else touch(k, REVOKING, FAILED, GONE, ckey(id)) end
          f = f or redis.call('HMGET', k, 's', 'e', 'i', 'b', 'n', 'a', 't')
          if not f[1] or f[1] == '2' then return nil end
          touch(live_keys(f[6], f[7]))
          local children = redis.call('SMEMBERS', ckey(id))
          for _, c in ipairs(children) do touch(lkey(c)) end
          if f[4] then touch(bkey(f[4])) end
          return { f, children }
        end
        local function mark_write(id, hit, revokedAt, keep, owner)
          local k, f, at = lkey(id), hit[1], tonumber(revokedAt)
          restate(id, f[1], '2', f[3])
          local la, lt = live_keys(f[6], f[7])
          redis.call('ZREM', la, id)
          redis.call('ZREM', lt, id)
          if f[4] then
            redis.call('HINCRBY', bkey(f[4]), 'r', 1)
            if f[5] and f[5] ~= '0' then redis.call('HINCRBY', bkey(f[4]), 'f', -1) end
            redis.call('HDEL', k, 'b')
          end
          -- A revoked parent takes its children with it, in this same step: no child outlives its parent.
          for _, c in ipairs(hit[2]) do schedule(c, revokedAt, nil) end
          local forgetAt = math.max(at, tonumber(f[2])) + keep
          -- 'd' stays: a revoked lease has no due time whatever it says (LeaseCodec), and leaving it saves a call per mark.
          redis.call('HSET', k, 's', '2', 'ra', revokedAt)
          redis.call('ZREM', DUE, id)
          redis.call('ZADD', GONE, ms(forgetAt), id)
          -- A backstop only: the sweeper forgets the lease (and its index entries) at forgetAt.
          redis.call('PEXPIRE', k, ms(math.max(forgetAt - at + keep, 60000)))
          if owner ~= '' then
            redis.call('ZADD', P .. 'unaudited:' .. owner, revokedAt, id)
            if not listed_owners[owner] then
              redis.call('SADD', P .. 'unaudited-owners', owner)
              listed_owners[owner] = true
            end
          end
        end

        -- The ledger revocation a claim script was given (RedisLeaseStore.LedgerArgs), from ARGV[first] on:
        -- retention ms, audit owner or '', issuer kinds…; nil without kinds. at: the revocation time (ms, as text).
        local function ledger_args(at, first)
          if #ARGV < first + 2 then return nil end
          local ledger = { at = at, keep = tonumber(ARGV[first]), owner = ARGV[first + 1], kinds = {} }
          for i = first + 2, #ARGV do ledger.kinds[ARGV[i]] = true end
          return ledger
        end
        -- Marks a lease revoked now (both halves) and returns its fields as revoked and its children (ids, as read before
        -- the mark); nil when missing or already revoked. f: the lease's mark_fields when the caller read them.
        local function ledger_revoke(id, ledger, f)
          local hit = mark_read(id, ledger.owner, f)
          if not hit then return nil end
          mark_write(id, hit, ledger.at, ledger.keep, ledger.owner)
          return redis.call('HGETALL', lkey(id)), hit[2]
        end

        """;

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
