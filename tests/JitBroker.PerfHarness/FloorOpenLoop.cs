using JitBroker.Attestation;
using JitBroker.Core;
using JitBroker.Issuance;
using JitBroker.Leases.Redis;
using JitBroker.Redis;
using Microsoft.Extensions.Logging.Abstractions;

namespace JitBroker.PerfHarness;

/// <summary>
/// The floor's issuance driven open loop in process (issue 22 item 7's reference line): each arrival verifies a
/// distinct ES256 JWT-SVID (cache off), signs the task JWT and writes the lease to Redis — the three operations the
/// floor adds up — on the thread pool, at fractions of the floor's own maximum (1 / Σ 1/ops).
/// </summary>
internal sealed class FloorOpenLoop(DevTrustDomain dev, string scratchDirectory, IRedisConnection redis, int redisPid)
{
    public async Task<OpenLoopRun> RunAsync(double floorMax, IReadOnlyList<double> fractions, TimeSpan duration)
    {
        using var attestor = Floor.DevAttestor(dev, cache: false);
        using var keys = new FileSigningKeyProvider(new SigningKeyOptions { DataDirectory = scratchDirectory }, NullLogger<FileSigningKeyProvider>.Instance);
        var issuer = Floor.Issuer(keys);
        var store = new RedisLeaseStore(redis, "perf-floor-open:");
        var tokens = Enumerable.Range(0, 4096).Select(_ => dev.MintSvid(LeaseFactory.AgentId, "jitbroker", TimeSpan.FromMinutes(30))).ToArray();

        async Task Issue(string run, int i)
        {
            var identity = await attestor.AttestAsync(new AttestationEvidence(tokens[i & 4095], null)).ConfigureAwait(false);
            var now = TimeProvider.System.GetUtcNow();
            var lease = LeaseFactory.Jwt($"floor-open-{run}-{i / 4}", now, now.AddMinutes(5));
            var credential = await issuer.IssueAsync(new IssueRequest(lease.LeaseId, Floor.Agent, lease.TaskId, Floor.Grant)).ConfigureAwait(false);
            if (identity.Id.Length == 0 || credential.Secret.Length == 0)
            {
                throw new InvalidOperationException("The floor's issuance returned no identity or no token.");
            }

            await store.PutAsync(lease, CancellationToken.None).ConfigureAwait(false);
        }

        // Warm-up (JIT, connection), not recorded.
        await OpenLoop.RunAsync(floorMax * 0.25, TimeSpan.FromSeconds(3), i => Task.Run(() => Issue("warm", i))).ConfigureAwait(false);
        var result = new OpenLoopRun("floor, in process", floorMax, "floor phase, 1 / Σ 1/ops", "nothing pinned (in process, all cores, as the floor was measured)", []);
        foreach (var fraction in fractions)
        {
            var run = Guid.NewGuid().ToString("N")[..6];
            var window = await CostWindow.OpenAsync(null, null, 0, [redisPid]).ConfigureAwait(false);
            var sample = await OpenLoop.RunAsync(floorMax * fraction, duration, i => Task.Run(() => Issue(run, i))).ConfigureAwait(false);
            result.Levels.Add(new OpenLoopLevel(fraction, sample, await window.CloseAsync(sample.Completed, sample.Seconds).ConfigureAwait(false)));
            await RedisAdmin.FlushAsync(redis).ConfigureAwait(false);
        }

        return result;
    }
}
