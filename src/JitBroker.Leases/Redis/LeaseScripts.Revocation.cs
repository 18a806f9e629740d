using JitBroker.Redis;

namespace JitBroker.Leases.Redis;

/// <summary>Bulk revocation scripts: an operator's intent becomes schedule entries in one atomic step per chunk.</summary>
internal static partial class LeaseScripts
{
    /// <summary>
    /// ARGV: prefix, agents… → the ids of every lease those agents hold (any state). Only leases whose agent field
    /// matches: the task index key joins agent and task with '|', which both may contain.
    /// </summary>
    public static readonly LuaScript AgentLeases = new(Prelude + """
        local out = {}
        for i = 2, #ARGV do
          local a = ARGV[i]
          for _, t in ipairs(members(P .. 'agent:{' .. a .. '}')) do
            for _, id in ipairs(members(tkey(a, t))) do
              local holder = redis.call('HGET', lkey(id), 'a')
              if not holder then touch(lkey(id)) end
              if holder == a then out[#out + 1] = id end
            end
          end
        end
        return out
        """);

    /// <summary>
    /// ARGV: prefix, now ms, batch id or '', batch retention ms, lease ids… → [scheduled, in progress, already revoked].
    /// Walks the given leases and every descendant (children of revoked parents included), breadth first, each once.
    /// </summary>
    public static readonly LuaScript Schedule = new(Prelude + """
        local now, keepMs = ARGV[2], ARGV[4]
        local batch = ARGV[3] ~= '' and ARGV[3] or nil
        local seen, queue = {}, {}
        for i = 5, #ARGV do
          local id = ARGV[i]
          if not seen[id] then seen[id] = true queue[#queue + 1] = id end
        end
        local moved, pending, done, failing = 0, 0, 0, 0
        local i = 1
        while i <= #queue do
          local id = queue[i]
          i = i + 1
          local r, n = schedule(id, now, batch)
          if r then
            if r == 1 then moved = moved + 1 elseif r == 2 then pending = pending + 1 else done = done + 1 end
            if r ~= 3 and n and n ~= '0' then failing = failing + 1 end
            for _, c in ipairs(members(ckey(id))) do
              if not seen[c] then seen[c] = true queue[#queue + 1] = c end
            end
          end
        end
        if batch then
          local bk = bkey(batch)
          touch(bk)
          redis.call('HINCRBY', bk, 't', moved + pending)
          redis.call('HINCRBY', bk, 'r', 0)
          if failing > 0 then redis.call('HINCRBY', bk, 'f', failing) end
          redis.call('PEXPIRE', bk, keepMs)
        end
        return { moved, pending, done }
        """);

    /// <summary>
    /// ARGV: prefix, now ms, SSCAN cursor, count → [next cursor, scheduled]. The consistency sweep over delegated
    /// leases: any whose parent is not active (revoked, revoking, failed or forgotten) is scheduled.
    /// </summary>
    public static readonly LuaScript ScheduleOrphans = new(Prelude + """
        local scan = redis.call('SSCAN', DELEGATED, ARGV[3], 'COUNT', ARGV[4])
        if not scan[2][1] then touch(DELEGATED) end
        local moved = 0
        for _, id in ipairs(scan[2]) do
          local f = redis.call('HMGET', lkey(id), 's', 'p')
          if not f[1] then
            touch(lkey(id))
            redis.call('SREM', DELEGATED, id)
          elseif f[1] == '0' and f[2] then
            local parent = redis.call('HGET', lkey(f[2]), 's')
            if not parent then touch(lkey(f[2])) end
            if parent ~= '0' and schedule(id, ARGV[2], nil) == 1 then moved = moved + 1 end
          end
        end
        return { scan[1], moved }
        """);
}
