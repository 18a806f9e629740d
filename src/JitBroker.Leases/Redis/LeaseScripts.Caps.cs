namespace JitBroker.Leases.Redis;

/// <summary>
/// Active-lease caps: per agent and per agent's task, a sorted set of the not-yet-revoked lease ids scored by expiry
/// (<c>P live-agent:{agent}</c>, <c>P live-task:{agent|task}</c>, in the lease's bucket). Every put adds to both, a
/// renewal moves the score, a revocation removes the id, and a capped put first drops the members whose expiry has
/// passed, then counts: count and insert are one script, so concurrent puts cannot overshoot a cap.
/// </summary>
/// <remarks>
/// With more than one bucket (Redis Cluster) an agent's leases are counted per bucket, so the broker places every root
/// lease of an agent that has a per-agent cap in one bucket (<c>CredentialCommit</c>); a task's root leases always share one.
/// </remarks>
internal static partial class LeaseScripts
{
    private const string CapsPrelude = """
        local function live_keys(agent, task) return P .. 'live-agent:{' .. agent .. '}', P .. 'live-task:{' .. agent .. '|' .. task .. '}' end
        -- nil when within both caps ('' = no cap), else -2 (agent full) or -3 (task full).
        -- (ZRANGEBYSCORE + ZREM rather than ZREMRANGEBYSCORE: the documented ACL, docs/redis.md, allows only these.)
        local function drop_expired(key, now)
          for _, x in ipairs(redis.call('ZRANGEBYSCORE', key, '-inf', now)) do redis.call('ZREM', key, x) end
        end
        local function over_cap(ak, tk, now, cap_agent, cap_task)
          if cap_agent ~= '' then
            drop_expired(ak, now)
            if redis.call('ZCARD', ak) >= tonumber(cap_agent) then return -2 end
          end
          if cap_task ~= '' then
            drop_expired(tk, now)
            if redis.call('ZCARD', tk) >= tonumber(cap_task) then return -3 end
          end
          return nil
        end

        """;
}
