using JitBroker.Redis;

namespace JitBroker.Leases.Redis;

/// <summary>
/// Claiming leases and marking them revoked: the sweep's <see cref="ClaimDue"/>, EndTask's <see cref="ClaimTask"/>,
/// <see cref="ClaimTrees"/>, <see cref="TryClaim"/> and the revoker's <see cref="MarkRevoked"/>. Each script works in two
/// phases — every lease read and every key touched, then every write — and makes the writes to keys all its leases share
/// (the due set, the gone set, the owner's outbox, an agent's and a task's live sets) once for all of them at its end
/// (<c>flush</c>), not once per lease.
/// </summary>
/// <remarks>
/// Why both: fewer commands per lease (a swept JWT lease 5.5 instead of 11.1), fewer writes to run and to feed the AOF —
/// Redis's CPU per swept lease fell 7–27 % (docs/benchmarks.md, eleventh session). Not faster for a 10-lease EndTask:
/// there, moving each lease's hash into Lua and back costs more than the calls saved. Deferring shared writes is
/// only safe when nothing can stop the script between a lease's own writes and the flush: in a cluster layout a touch
/// that meets a moved key stops the script (see <c>touch</c>), so every touch comes before the first write. And a step
/// never reads what another step of the same script wrote: a revoked lease's children that the script claims or marks
/// itself (<c>handled</c>) are not scheduled by their parent's step — their own step does what the schedule would have
/// led to, from the read phase one made.
/// </remarks>
internal static partial class LeaseScripts
{
    /// <summary>
    /// ARGV: prefix, now ms, max, claim deadline ms[, retention ms, audit owner or '', issuer kinds…] → [id, fields, id,
    /// fields, …] in due order. With issuer kinds, a due lease of one of them is not claimed but marked revoked at now as
    /// <see cref="MarkRevoked"/> marks it (its fields then say state 2).
    /// </summary>
    public static readonly LuaScript ClaimDue = new(Prelude + CapsPrelude + MarkPrelude + """
        for _, id in ipairs(redis.call('ZRANGEBYSCORE', GONE, '-inf', ARGV[2], 'LIMIT', 0, 256)) do forget(id) end
        local ledger = ledger_args(ARGV[2], 5)
        local w = new_writes(ledger)
        local due, plan, handled = redis.call('ZRANGEBYSCORE', DUE, '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3])), {}, {}
        -- Phase one. A revoked lease is never due: an entry for one (or for a missing lease) is stale and only dropped.
        for i, id in ipairs(due) do
          local r = read_lease(id)
          if r and r.m.s ~= '2' then
            prepare(id, r, ledger, w, handled)
            plan[i] = r
          end
        end
        -- Phase two.
        local out = {}
        for i, id in ipairs(due) do
          local r = plan[i]
          if not r then
            w.undue[#w.undue + 1] = id
          else
            out[#out + 1] = id
            out[#out + 1] = apply(id, r, w, handled, ARGV[4])
          end
        end
        flush(w)
        return out
        """);

    /// <summary>ARGV: prefix, id, claim deadline ms → fields, or nil when missing or revoked.</summary>
    public static readonly LuaScript TryClaim = new(Prelude + CapsPrelude + MarkPrelude + """
        local r = read_lease(ARGV[2])
        if not r then return nil end
        claim_touch(ARGV[2])
        if r.m.s == '2' then return nil end
        return claim_write(ARGV[2], r, ARGV[3])
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
        return claim_trees(roots, ARGV[2], nil, {})
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
        -- The root check's read serves the walk (nothing is written before the walk's phase two).
        local found, read = {}, {}
        for _, id in ipairs(members(ARGV[5])) do
          local r = read_lease(id)
          if r and r.m.a == ARGV[3] and r.m.t == ARGV[4] then
            found[#found + 1] = { tonumber(r.m.i) or 0, id }
            read[id] = r
          end
        end
        table.sort(found, function(x, y) if x[1] ~= y[1] then return x[1] < y[1] end return x[2] < y[2] end)
        local roots, order = {}, {}
        for _, f in ipairs(found) do
          roots[#roots + 1] = f[2]
          order[#order + 1] = f[2]
          order[#order + 1] = ms(f[1])
        end
        return { order, claim_trees(roots, ARGV[2], ledger_args(ARGV[6], 7), read) }
        """);

    /// <summary>
    /// ARGV: prefix, revoked-at ms, retention ms, audit owner or '', ids… → per id 1 changed, 0 missing or already revoked
    /// (or named before in the same call). With an owner each changed lease enters that owner's outbox (see
    /// <see cref="RedisLeaseStore"/>'s IRevocationOutbox) in this same step.
    /// </summary>
    public static readonly LuaScript MarkRevoked = new(Prelude + CapsPrelude + MarkPrelude + """
        local w = new_writes({ at = ARGV[2], keep = tonumber(ARGV[3]), owner = ARGV[4] })
        local found, handled = {}, {}
        for i = 5, #ARGV do
          local id = ARGV[i]
          local r = not handled[id] and read_lease(id) or nil
          if r and r.m.s ~= '2' then
            handled[id] = true
            r.children = mark_read(id, r, w.owner)
            found[i] = r
          end
        end
        local out = {}
        for i = 5, #ARGV do
          if found[i] then mark_write(ARGV[i], found[i], w, handled) out[#out + 1] = 1 else out[#out + 1] = 0 end
        end
        flush(w)
        return out
        """);

    // The walk shared by ClaimTrees and ClaimTask: each root, then the descendants breadth first (each lease's children in
    // id order), each once; a lease not revoked is claimed — or, with a ledger revocation (ledger_args) and of one of its
    // kinds, marked revoked — a revoked one listed with empty fields, a missing one left out. read: leases the caller read
    // (read_lease) by id. Every lease present and not revoked is walked, so no step schedules another (handled).
    private const string ClaimTreesPrelude = """
        local function claim_trees(roots, deadline, ledger, read)
          local w = new_writes(ledger)
          local seen, queue, plan, handled = {}, {}, {}, {}
          for _, id in ipairs(roots) do
            if not seen[id] then seen[id] = true queue[#queue + 1] = id end
          end
          local i = 1
          while i <= #queue do
            local id = queue[i]
            i = i + 1
            local r = read[id] or read_lease(id)
            if r then
              r.id = id
              plan[#plan + 1] = r
              if r.m.s ~= '2' then prepare(id, r, ledger, w, handled) end
              local children = {}
              for j, c in ipairs(r.children or members(ckey(id))) do children[j] = c end
              table.sort(children)
              for _, c in ipairs(children) do
                if not seen[c] then seen[c] = true queue[#queue + 1] = c end
              end
            end
          end
          local out = {}
          for _, r in ipairs(plan) do
            out[#out + 1] = r.id
            out[#out + 1] = r.m.s == '2' and {} or apply(r.id, r, w, handled, deadline)
          end
          flush(w)
          return out
        end

        """;

    private const string MarkPrelude = """
        -- A lease's hash, read once (HGETALL) for everything a script decides and returns: h as the reply (names and values
        -- alternating), m by name; nil when absent (touched before its absence is trusted, see members) or stateless.
        local function read_lease(id)
          local k = lkey(id)
          local h = redis.call('HGETALL', k)
          if not h[1] then touch(k) return nil end
          local m = {}
          for i = 1, #h, 2 do m[h[i]] = h[i + 1] end
          if not m.s then return nil end
          return { h = h, m = m }
        end
        -- What HGETALL would return after HSET of set's name/value pairs (and HDEL of drop) over r's read, without the call.
        local function rewrite(r, set, drop)
          local out, done = {}, {}
          for i = 1, #r.h, 2 do
            local name, v = r.h[i], r.h[i + 1]
            if name ~= drop then
              for j = 1, #set, 2 do if set[j] == name then v = set[j + 1] done[j] = true end end
              out[#out + 1] = name
              out[#out + 1] = v
            end
          end
          for j = 1, #set, 2 do
            if not done[j] then out[#out + 1] = set[j] out[#out + 1] = set[j + 1] end
          end
          return out
        end
        -- Lua's unpack is bounded by its C stack (8,000 slots in Redis), so long lists go to Redis in slices.
        local function call_sliced(command, key, args, step)
          for i = 1, #args, step do redis.call(command, key, unpack(args, i, math.min(i + step - 1, #args))) end
        end
        local function touch_all(keys)
          if TAGGED then for i = 1, #keys, 512 do touch(unpack(keys, i, math.min(i + 511, #keys))) end end
        end

        -- The writes to shared keys a script's leases need, gathered by their steps and made by flush at its end. ledger:
        -- the revocation's time, retention and audit owner (ledger_args), or nil for a script that only claims.
        local function new_writes(ledger)
          ledger = ledger or {}
          return { at = ledger.at, keep = ledger.keep, owner = ledger.owner or '', undue = {}, gone = {}, unaudited = {},
            live = {}, live_order = {} }
        end
        local function unlive(w, key, id)
          local ids = w.live[key]
          if not ids then ids = {} w.live[key] = ids w.live_order[#w.live_order + 1] = key end
          ids[#ids + 1] = id
        end
        local function flush(w)
          if w.undue[1] then call_sliced('ZREM', DUE, w.undue, 512) end
          if w.gone[1] then call_sliced('ZADD', GONE, w.gone, 1024) end
          for _, key in ipairs(w.live_order) do call_sliced('ZREM', key, w.live[key], 512) end
          if w.unaudited[1] then
            call_sliced('ZADD', P .. 'unaudited:' .. w.owner, w.unaudited, 1024)
            redis.call('SADD', P .. 'unaudited-owners', w.owner)
          end
        end

        -- Claiming: the revoker holds the lease until deadline (state revoking, due then again).
        local function claim_touch(id) touch(lkey(id), REVOKING, FAILED) end
        local function claim_write(id, r, deadline)
          restate(id, r.m.s, '1', r.m.i)
          redis.call('HSET', lkey(id), 's', '1', 'd', deadline)
          redis.call('ZADD', DUE, deadline, id)
          return rewrite(r, { 's', '1', 'd', deadline })
        end

        -- Marking revoked, for a lease present and not revoked. mark_read touches every key mark_write uses and returns the
        -- lease's children; mark_write returns the lease's fields as they are after it.
        local function mark_read(id, r, owner)
          local m = r.m
          if TAGGED then
            local la, lt = live_keys(m.a, m.t)
            local keys = { lkey(id), REVOKING, FAILED, GONE, ckey(id), la, lt }
            if owner ~= '' then keys[#keys + 1] = P .. 'unaudited:' .. owner keys[#keys + 1] = P .. 'unaudited-owners' end
            if m.b then keys[#keys + 1] = bkey(m.b) end
            touch_all(keys)
          end
          local children = redis.call('SMEMBERS', ckey(id))
          if TAGGED and children[1] then
            local keys = {}
            for i, c in ipairs(children) do keys[i] = lkey(c) end
            touch_all(keys)
          end
          return children
        end
        -- handled: the ids this script claims or marks itself. A child among them is not scheduled here: its own step
        -- claims or marks it, from phase one's read, which no other step writes over.
        local function mark_write(id, r, w, handled)
          local k, m, at = lkey(id), r.m, tonumber(w.at)
          restate(id, m.s, '2', m.i)
          local la, lt = live_keys(m.a, m.t)
          unlive(w, la, id)
          unlive(w, lt, id)
          if m.b then
            redis.call('HINCRBY', bkey(m.b), 'r', 1)
            if m.n and m.n ~= '0' then redis.call('HINCRBY', bkey(m.b), 'f', -1) end
            redis.call('HDEL', k, 'b')
          end
          -- A revoked parent takes its children with it, in this same step: no child outlives its parent.
          for _, c in ipairs(r.children) do
            if not handled[c] then schedule(c, w.at, nil) end
          end
          local forgetAt = math.max(at, tonumber(m.e)) + w.keep
          -- 'd' stays: a revoked lease has no due time whatever it says (LeaseCodec), and leaving it saves a call per mark.
          redis.call('HSET', k, 's', '2', 'ra', w.at)
          -- A backstop only: the sweeper forgets the lease (and its index entries) at forgetAt.
          redis.call('PEXPIRE', k, ms(math.max(forgetAt - at + w.keep, 60000)))
          w.undue[#w.undue + 1] = id
          w.gone[#w.gone + 1] = ms(forgetAt)
          w.gone[#w.gone + 1] = id
          if w.owner ~= '' then
            w.unaudited[#w.unaudited + 1] = w.at
            w.unaudited[#w.unaudited + 1] = id
          end
          return rewrite(r, { 's', '2', 'ra', w.at }, 'b')
        end

        -- The two phases of a claim script's step for a lease present and not revoked: a lease of one of the ledger
        -- revocation's kinds is marked revoked, any other claimed until deadline. apply returns the lease's fields after it.
        local function prepare(id, r, ledger, w, handled)
          handled[id] = true
          if ledger and ledger.kinds[r.m.k or ''] then r.children = mark_read(id, r, w.owner) else claim_touch(id) end
        end
        local function apply(id, r, w, handled, deadline)
          if r.children then return mark_write(id, r, w, handled) end
          return claim_write(id, r, deadline)
        end

        -- The ledger revocation a claim script was given (RedisLeaseStore.LedgerArgs), from ARGV[first] on:
        -- retention ms, audit owner or '', issuer kinds…; nil without kinds. at: the revocation time (ms, as text).
        local function ledger_args(at, first)
          if #ARGV < first + 2 then return nil end
          local ledger = { at = at, keep = tonumber(ARGV[first]), owner = ARGV[first + 1], kinds = {} }
          for i = first + 2, #ARGV do ledger.kinds[ARGV[i]] = true end
          return ledger
        end

        """;
}
