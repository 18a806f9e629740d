using System.Diagnostics;
using System.Security.Cryptography;
using JitBroker.Attestation;
using JitBroker.Core;
using JitBroker.Issuance;
using JitBroker.Leases.Redis;
using JitBroker.Redis;
using Microsoft.Extensions.Logging.Abstractions;

namespace JitBroker.PerfHarness;

/// <summary>One irreducible operation measured on all cores: throughput and CPU per operation.</summary>
internal sealed record FloorOp(string Name, string Method, long Operations, double Seconds, double OpsPerSecond, double HarnessCpuUsPerOp, double RedisCpuUsPerOp)
{
    /// <summary>Cores busy with other processes during the measurement (noise).</summary>
    public double OtherProcessesCoresBusy { get; init; }

    /// <summary>Bytes this process allocated per operation (GC.GetTotalAllocatedBytes over the timed window); NaN where not measured.</summary>
    public double AllocatedBytesPerOp { get; init; } = double.NaN;
}

internal sealed record FloorResult(int Threads, int LeaseWritesInFlight, FloorOp Verify, FloorOp Sign, FloorOp LeaseWrite)
{
    /// <summary>Raw ECDSA P-256 (OpenSSL through the BCL) on the same threads: how much of each component is the crypto itself.</summary>
    public List<FloorOp> CryptoReference { get; init; } = [];

    /// <summary>
    /// Issuances per second if each did exactly the three operations and nothing else: the three costs, each
    /// measured as time per operation with all cores busy, add up (1 / Σ 1/throughput).
    /// </summary>
    public double IssuancesPerSecond => 1 / ((1 / Verify.OpsPerSecond) + (1 / Sign.OpsPerSecond) + (1 / LeaseWrite.OpsPerSecond));

    /// <summary>
    /// CPU the three operations take per issuance (this process and Redis), in µs. Unlike throughput it does not
    /// depend on how much of the machine other processes took during the run, so it is the robust figure to compare.
    /// </summary>
    public double CpuUsPerIssuance => new[] { Verify, Sign, LeaseWrite }.Sum(op => op.HarnessCpuUsPerOp + op.RedisCpuUsPerOp);
}

/// <summary>
/// The floor (issue 10, harness step 1): in this process, without gRPC, the real components doing the three
/// things every issuance must do — verify the agent's ES256 JWT-SVID, sign the ES256 task JWT, write the lease
/// to Redis — each on every core at once.
/// </summary>
internal sealed class Floor(HarnessOptions options, DevTrustDomain dev, string scratchDirectory, IRedisConnection redis, int redisPid)
{
    /// <summary>Timed window of each operation (default <see cref="HarnessOptions.FloorDuration"/>).</summary>
    public TimeSpan Duration { get; init; } = options.FloorDuration;

    /// <summary>Untimed warm-up before each operation (default <see cref="HarnessOptions.FloorWarmup"/>).</summary>
    public TimeSpan Warmup { get; init; } = options.FloorWarmup;

    /// <summary>Flush Redis after the lease writes. Off while a broker is running against the same Redis (the pairs phase).</summary>
    public bool FlushAfterWrites { get; init; } = true;

    /// <param name="withReference">Also measure the reference rows (cached verify, raw ECDSA); the floor again after the broker phases leaves them out.</param>
    public async Task<FloorResult> RunAsync(bool withReference = true)
    {
        var threads = Environment.ProcessorCount;
        var verify = MeasureVerify(threads);
        var sign = MeasureSign(threads);
        var write = await MeasureLeaseWritesAsync().ConfigureAwait(false);
        return new FloorResult(threads, options.LeaseWritesInFlight, verify, sign, write)
        {
            CryptoReference = withReference ? [MeasureCachedVerify(threads), .. MeasureRawCrypto(threads)] : [],
        };
    }

    private FloorOp MeasureVerify(int threads)
    {
        // The floor is the verification itself: the cache off, or the pool below would be answered from it after one lap.
        using var attestor = DevAttestor(cache: false);
        // Distinct tokens, as the broker sees them (each has its own jti); cycling through a pool keeps minting out of the loop.
        var tokens = Enumerable.Range(0, 4096).Select(_ => dev.MintSvid(LeaseFactory.AgentId, "jitbroker", TimeSpan.FromMinutes(30))).ToArray();
        return MeasureCpuBound("verify ES256 JWT-SVID", "JwtSvidAttestor.AttestAsync (dev trust domain bundle)", threads, i =>
        {
            var identity = attestor.AttestAsync(new AttestationEvidence(tokens[i & 4095], null)).AsTask().GetAwaiter().GetResult();
            if (identity.Id.Length == 0)
            {
                throw new InvalidOperationException("Attestation returned no identity.");
            }
        });
    }

    /// <summary>
    /// Reference, not part of the floor: the same call for a re-presented SVID, answered by the verified-token cache
    /// (hash of the token, lookup, time claims and key snapshot checked). 64 distinct tokens, each presented over and over.
    /// </summary>
    private FloorOp MeasureCachedVerify(int threads)
    {
        using var attestor = DevAttestor(cache: true);
        var tokens = Enumerable.Range(0, 64).Select(_ => dev.MintSvid(LeaseFactory.AgentId, "jitbroker", TimeSpan.FromMinutes(30))).ToArray();
        return MeasureCpuBound("verify, re-presented SVID", "JwtSvidAttestor.AttestAsync, verified-token cache hit (reference, not part of the floor)", threads, i =>
        {
            if (attestor.AttestAsync(new AttestationEvidence(tokens[i & 63], null)).AsTask().GetAwaiter().GetResult().Id.Length == 0)
            {
                throw new InvalidOperationException("Attestation returned no identity.");
            }
        });
    }

    private JwtSvidAttestor DevAttestor(bool cache) => DevAttestor(dev, cache);

    internal static JwtSvidAttestor DevAttestor(DevTrustDomain dev, bool cache) => new(
        new JwtSvidOptions
        {
            Audience = "jitbroker", TrustBundles = { [DevTrustDomain.Name] = dev.BundlePath }, VerifiedTokenCache = { Enabled = cache },
        },
        TimeProvider.System, NullLogger<JwtSvidAttestor>.Instance);

    /// <summary>The agent the floor's task JWTs are issued to.</summary>
    internal static readonly WorkloadIdentity Agent = new()
    {
        Id = LeaseFactory.AgentId, TrustDomain = DevTrustDomain.Name, Method = JwtSvidAttestor.MethodName, EvidenceFingerprint = "sha256:00",
    };

    /// <summary>The sample policy's support-bot grant, as the broker would issue it.</summary>
    internal static readonly Grant Grant = new("jwt", new GrantedScope("https://tickets.internal.example", "tickets.create", ["zendesk"], ["tickets/1"]),
        TimeSpan.FromMinutes(5), new Dictionary<string, string>());

    internal static JwtCredentialIssuer Issuer(FileSigningKeyProvider keys) =>
        new(keys, new JwtIssuerOptions { Issuer = "http://127.0.0.1:8080" }, TimeProvider.System);

    private FloorOp MeasureSign(int threads)
    {
        using var keys = new FileSigningKeyProvider(new SigningKeyOptions { DataDirectory = scratchDirectory }, NullLogger<FileSigningKeyProvider>.Instance);
        var issuer = Issuer(keys);
        var leaseIds = Enumerable.Range(0, 4096).Select(_ => LeaseIds.New()).ToArray();
        return MeasureCpuBound("sign ES256 task JWT", "JwtCredentialIssuer.IssueAsync", threads, i =>
        {
            var credential = issuer.IssueAsync(new IssueRequest(leaseIds[i & 4095], Agent, "task-1", Grant)).AsTask().GetAwaiter().GetResult();
            if (credential.Secret.Length == 0)
            {
                throw new InvalidOperationException("Issuer returned no token.");
            }
        });
    }

    private async Task<FloorOp> MeasureLeaseWritesAsync()
    {
        var store = new RedisLeaseStore(redis, "perf-floor:");
        var now = TimeProvider.System.GetUtcNow();
        var expires = now.AddMinutes(5);
        var run = Guid.NewGuid().ToString("N")[..8];
        long count = 0;
        async Task Loop(int worker, CancellationToken stop, bool counted)
        {
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                // Four leases per task, like an agent asking for a few tools within one task.
                await store.PutAsync(LeaseFactory.Jwt($"floor-{run}-{worker}-{n++ / 4}", now, expires), CancellationToken.None).ConfigureAwait(false);
                if (counted)
                {
                    Interlocked.Increment(ref count);
                }
            }
        }

        using (var warm = new CancellationTokenSource(Warmup))
        {
            await Task.WhenAll(Enumerable.Range(0, options.LeaseWritesInFlight).Select(w => Loop(w, warm.Token, false))).ConfigureAwait(false);
        }

        var cpu = new CpuWindow(0, redisPid);
        var watch = Stopwatch.StartNew();
        using (var timed = new CancellationTokenSource(Duration))
        {
            await Task.WhenAll(Enumerable.Range(0, options.LeaseWritesInFlight).Select(w => Loop(1000 + w, timed.Token, true))).ConfigureAwait(false);
        }

        var seconds = watch.Elapsed.TotalSeconds;
        var (_, redisCpu, self) = cpu.Elapsed();
        var others = cpu.Others().TotalSeconds / seconds;
        if (FlushAfterWrites)
        {
            await RedisAdmin.FlushAsync(redis).ConfigureAwait(false);
        }

        return new FloorOp("Redis lease write", $"RedisLeaseStore.PutAsync, {options.LeaseWritesInFlight} in flight on one connection",
            count, seconds, count / seconds, self.TotalMicroseconds / count, redisCpu.TotalMicroseconds / count) { OtherProcessesCoresBusy = others };
    }

    private List<FloorOp> MeasureRawCrypto(int threads)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var data = new byte[420];
        RandomNumberGenerator.Fill(data);
        var signature = key.SignData(data, HashAlgorithmName.SHA256);
        // One ECDsa per thread, as the attestor's verifier pool and the issuer's signer give each caller.
        var verifiers = new ThreadLocal<ECDsa>(() => ECDsa.Create(key.ExportParameters(false)), trackAllValues: true);
        var signers = new ThreadLocal<ECDsa>(() => ECDsa.Create(key.ExportParameters(true)), trackAllValues: true);
        var result = new List<FloorOp>
        {
            MeasureCpuBound("raw ECDSA P-256 verify", "ECDsa.VerifyData, 420-byte input (reference, not part of the floor)", threads, _ =>
            {
                if (!verifiers.Value!.VerifyData(data, signature, HashAlgorithmName.SHA256))
                {
                    throw new InvalidOperationException("Reference signature did not verify.");
                }
            }),
            MeasureCpuBound("raw ECDSA P-256 sign", "ECDsa.SignData, 420-byte input (reference, not part of the floor)", threads,
                _ => signers.Value!.SignData(data, HashAlgorithmName.SHA256)),
        };
        foreach (var k in verifiers.Values.Concat(signers.Values))
        {
            k.Dispose();
        }

        return result;
    }

    private FloorOp MeasureCpuBound(string name, string method, int threads, Action<int> operation)
    {
        RunThreads(threads, Warmup, operation, out _);
        var cpu = new CpuWindow(0, 0);
        var allocated = GC.GetTotalAllocatedBytes();
        var watch = Stopwatch.StartNew();
        var count = RunThreads(threads, Duration, operation, out _);
        var seconds = watch.Elapsed.TotalSeconds;
        var (_, _, self) = cpu.Elapsed();
        return new FloorOp(name, method, count, seconds, count / seconds, self.TotalMicroseconds / count, 0)
        {
            OtherProcessesCoresBusy = cpu.Others().TotalSeconds / seconds,
            AllocatedBytesPerOp = (GC.GetTotalAllocatedBytes() - allocated) / (double)count,
        };
    }

    private static long RunThreads(int threads, TimeSpan duration, Action<int> operation, out double seconds)
    {
        long total = 0;
        var watch = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            var n = 0;
            var i = t * 1024;
            while (watch.Elapsed < duration)
            {
                operation(i++);
                n++;
            }

            Interlocked.Add(ref total, n);
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        seconds = watch.Elapsed.TotalSeconds;
        return total;
    }
}
