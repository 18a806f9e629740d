using System.Text.Json;
using JitBroker.Core;
using JitBroker.Redis;
using StackExchange.Redis;
using LuaScript = JitBroker.Redis.LuaScript;

namespace JitBroker.Leases.Redis;

/// <summary>
/// The shared approval store: one hash per approval, <c>{prefix}approval:{id}</c> (<c>s</c> state digit,
/// <c>e</c> expiry ms, <c>j</c> the record as JSON), and a sorted set <c>{prefix}approvals:pending</c> of
/// pending ids by creation time. <see cref="TransitionAsync"/> is a Lua compare-and-set on <c>s</c>.
/// </summary>
/// <remarks>
/// <para>Each approval hash expires <see cref="Retention"/> after the approval itself expires (renewed by every
/// write), so decided approvals stay available for audit and operator questions, then go.</para>
/// <para>
/// <c>j</c> is <c>&lt;MAC&gt;\n&lt;JSON&gt;</c>: a <see cref="StateMac"/> tag over the approval id and the JSON, so someone who can
/// write Redis cannot approve a request or forge a pending one; a record whose tag is missing (written before the tag
/// existed) or wrong is refused with <see cref="Reasons.Store.IntegrityCheckFailed"/> and never listed. The tag sits in
/// <c>j</c> itself so the scripts, which never look inside it, are unchanged. The plain <c>s</c> field only steers the
/// compare-and-set; every decision is read from the authenticated record.
/// </para>
/// </remarks>
public sealed class RedisApprovalStore : IApprovalStore
{
    /// <summary>How long an approval record is kept after its <see cref="ApprovalRecord.ExpiresAt"/>.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromDays(7);

    private const string ScriptPrelude = """
        local function save(k, id, state, expires, created, json, ttl)
          -- Both keys in one command first: while the slot migrates with either key moved, Redis refuses this
          -- (ASK / TRYAGAIN) before anything is written (see LeaseScripts' touch).
          redis.call('EXISTS', KEYS[1], k)
          redis.call('HSET', k, 's', state, 'e', expires, 'j', json)
          redis.call('PEXPIRE', k, ttl)
          if state == '0' then redis.call('ZADD', KEYS[1], created, id) else redis.call('ZREM', KEYS[1], id) end
        end

        """;

    /// <summary>KEYS: pending set. ARGV: prefix, id, state, expires ms, created ms, json, ttl ms → 1 stored, 0 id taken.</summary>
    private static readonly LuaScript Put = new(ScriptPrelude + """
        local k = ARGV[1] .. 'approval:{' .. ARGV[2] .. '}'
        if redis.call('EXISTS', k) == 1 then return 0 end
        save(k, ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
        return 1
        """);

    /// <summary>
    /// As <see cref="Put"/>, plus ARGV[8] agent, [9] request hash, [10] now ms, [11] cap or '' → {1} stored, {0} id taken,
    /// {2, json} the agent's pending approval for the same request, {3} the agent's pending approvals at the cap. The
    /// agent's pending ids live in <c>approvals:agent:{agent}</c> (scored by expiry); decided and expired ones are dropped
    /// as the script meets them, so it reads at most the agent's open approvals plus those decided since its last one.
    /// </summary>
    private static readonly LuaScript OpenPending = new(ScriptPrelude + """
        local P = ARGV[1]
        local k, ak = P .. 'approval:{' .. ARGV[2] .. '}', P .. 'approvals:agent:' .. ARGV[8]
        redis.call('EXISTS', KEYS[1], k, ak)
        local count = 0
        for _, id in ipairs(redis.call('ZRANGE', ak, 0, -1)) do
          local other = P .. 'approval:{' .. id .. '}'
          local f = redis.call('HMGET', other, 's', 'e', 'h')
          if not f[1] then redis.call('EXISTS', KEYS[1], other) end -- absent, or not migrated yet (LeaseScripts' members)
          if f[1] ~= '0' or tonumber(f[2]) <= tonumber(ARGV[10]) then
            redis.call('ZREM', ak, id)
          elseif f[3] == ARGV[9] then
            return { 2, redis.call('HGET', other, 'j') }
          else
            count = count + 1
          end
        end
        if ARGV[11] ~= '' and count >= tonumber(ARGV[11]) then return { 3 } end
        if redis.call('EXISTS', k) == 1 then return { 0 } end
        save(k, ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
        redis.call('HSET', k, 'h', ARGV[9])
        redis.call('ZADD', ak, ARGV[4], ARGV[2])
        redis.call('PEXPIRE', ak, ARGV[7])
        return { 1 }
        """);

    /// <summary>As <see cref="Put"/>, plus ARGV[8] the expected state → 1 moved, 0 state differed (or missing).</summary>
    private static readonly LuaScript Transition = new(ScriptPrelude + """
        local k = ARGV[1] .. 'approval:{' .. ARGV[2] .. '}'
        if redis.call('HGET', k, 's') ~= ARGV[8] then return 0 end
        save(k, ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
        return 1
        """);

    /// <summary>KEYS: pending set. ARGV: prefix, now ms, max → JSON of pending, unexpired approvals, oldest first.</summary>
    private static readonly LuaScript ListPending = new("""
        local now, max, out, offset = tonumber(ARGV[2]), tonumber(ARGV[3]), {}, 0
        while #out < max and offset < max + 10000 do
          local ids = redis.call('ZRANGE', KEYS[1], offset, offset + 127)
          if #ids == 0 then break end
          for _, id in ipairs(ids) do
            local k = ARGV[1] .. 'approval:{' .. id .. '}'
            local f = redis.call('HMGET', k, 's', 'e', 'j')
            if not f[1] then redis.call('EXISTS', KEYS[1], k) end -- absent, or not migrated yet (LeaseScripts' members)
            if f[1] ~= '0' then
              redis.call('ZREM', KEYS[1], id)
              offset = offset - 1
            elseif tonumber(f[2]) > now and #out < max then
              out[#out + 1] = f[3]
            end
          end
          offset = offset + #ids
        end
        return out
        """);

    private readonly IRedisConnection _redis;
    private readonly string _prefix;
    private readonly RedisKey[] _pendingKey;
    private readonly TimeProvider _time;
    private readonly StateMac _mac;

    /// <param name="stateMac">Authenticates each record; null means <see cref="StateMac.ProcessEphemeral"/> (tests, tools).</param>
    public RedisApprovalStore(IRedisConnection redis, string keyPrefix, TimeProvider time, StateMac? stateMac = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentException.ThrowIfNullOrEmpty(keyPrefix);
        ArgumentNullException.ThrowIfNull(time);
        _redis = redis;
        _prefix = keyPrefix;
        _pendingKey = [keyPrefix + "approvals:pending"];
        _time = time;
        _mac = stateMac ?? StateMac.ProcessEphemeral;
    }

    /// <inheritdoc />
    /// <remarks>Refuses (<see cref="InvalidOperationException"/>) an id that already exists: a decided approval is never overwritten.</remarks>
    public async Task PutAsync(ApprovalRecord approval, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(approval);
        ArgumentException.ThrowIfNullOrEmpty(approval.ApprovalId);
        if ((await RunAsync(Put, Args(approval), cancellationToken).ConfigureAwait(false)).AsInt64() == 0)
        {
            throw new InvalidOperationException($"Approval '{approval.ApprovalId}' already exists.");
        }
    }

    /// <inheritdoc />
    public async Task<OpenedApproval> OpenPendingAsync(ApprovalRecord approval, int? maxPendingPerAgent, DateTimeOffset now,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(approval);
        ArgumentException.ThrowIfNullOrEmpty(approval.ApprovalId);
        var args = Args(approval);
        args.Add(approval.AgentId);
        args.Add(approval.RequestHash);
        args.Add(now.ToUnixTimeMilliseconds());
        args.Add(maxPendingPerAgent is { } cap ? cap : "");
        var reply = (await RunAsync(OpenPending, args, cancellationToken).ConfigureAwait(false)).AsArray();
        return reply[0].AsInt64() switch
        {
            1 => new OpenedApproval(ApprovalOpening.Created, approval),
            // The agent's pending approval for the same request: trusted only if its tag verifies, like any read.
            2 => new OpenedApproval(ApprovalOpening.Duplicate, Decode(null, reply[1]) ?? throw Tampered("(duplicate of " + approval.ApprovalId + ")")),
            3 => new OpenedApproval(ApprovalOpening.CapReached, null),
            _ => throw new InvalidOperationException($"Approval '{approval.ApprovalId}' already exists."),
        };
    }

    public async Task<ApprovalRecord?> GetAsync(string approvalId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(approvalId);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            var json = await _redis.ExecuteAsync("HGET", [Key(approvalId), "j"], cancellationToken).ConfigureAwait(false);
            return json.IsNull ? null : Decode(approvalId, json) ?? throw Tampered(approvalId);
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw Unavailable(ex);
        }
    }

    /// <inheritdoc />
    /// <remarks>Drops ids of decided or vanished approvals from the pending index as it meets them; looks at no more than <paramref name="max"/> + 10,000 entries.</remarks>
    public async Task<IReadOnlyList<ApprovalRecord>> ListPendingAsync(DateTimeOffset now, int max, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        if (max == 0)
        {
            return [];
        }

        var reply = await RunAsync(ListPending, [_prefix, now.ToUnixTimeMilliseconds(), max], cancellationToken).ConfigureAwait(false);
        // A record that fails its integrity check is never shown to an approver: it could be a forged request.
        return [.. reply.AsArray().Select(r => Decode(null, r)).OfType<ApprovalRecord>()];
    }

    public async Task<bool> TransitionAsync(ApprovalRecord next, ApprovalState expected, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(next);
        var args = Args(next);
        args.Add((int)expected);
        return (await RunAsync(Transition, args, cancellationToken).ConfigureAwait(false)).AsInt64() == 1;
    }

    private List<RedisValue> Args(ApprovalRecord approval)
    {
        var ttl = approval.ExpiresAt - _time.GetUtcNow() + Retention;
        return
        [
            _prefix, approval.ApprovalId, (int)approval.State, approval.ExpiresAt.ToUnixTimeMilliseconds(),
            approval.CreatedAt.ToUnixTimeMilliseconds(), Seal(approval),
            (long)Math.Max(ttl.TotalMilliseconds, TimeSpan.FromMinutes(1).TotalMilliseconds),
        ];
    }

    private RedisKey Key(string approvalId) => $"{_prefix}approval:{{{approvalId}}}";

    private const string MacPurpose = "approval";

    private string Seal(ApprovalRecord approval)
    {
        var json = JsonSerializer.Serialize(approval, StoreJson.Options);
        return _mac.Sign(MacPurpose, approval.ApprovalId, json) + "\n" + json;
    }

    /// <summary>The record, or null when its tag does not verify (or it is not the approval <paramref name="expectedId"/>).</summary>
    private ApprovalRecord? Decode(string? expectedId, RedisResult stored)
    {
        var text = stored.AsString() ?? "";
        var newline = text.IndexOf('\n', StringComparison.Ordinal);
        if (newline < 0)
        {
            return null;
        }

        var json = text[(newline + 1)..];
        ApprovalRecord? record;
        try
        {
            record = JsonSerializer.Deserialize<ApprovalRecord>(json, StoreJson.Options);
        }
        catch (JsonException)
        {
            return null;
        }

        return record is not null && (expectedId is null || record.ApprovalId == expectedId)
            && _mac.Verify(text[..newline], MacPurpose, record.ApprovalId, json) ? record : null;
    }

    private static BrokerException Tampered(string approvalId) =>
        new(BrokerFailure.Internal, Reasons.Store.IntegrityCheckFailed,
            $"Approval '{approvalId}' in the shared store failed its integrity check (not written by a broker with this state integrity key); it is not trusted.");

    private async Task<RedisResult> RunAsync(LuaScript script, IReadOnlyList<RedisValue> args, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            return await _redis.EvalAsync(script, _pendingKey, args, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisFailures.IsRedisFailure(ex))
        {
            throw Unavailable(ex);
        }
    }

    private static BrokerException Unavailable(Exception ex) =>
        StoreFailures.Unavailable(Reasons.Store.ApprovalStoreUnavailable, "approval store", ex);
}
