using System.Security.Cryptography;
using System.Text;
using JitBroker.OAuth;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace JitBroker.ToolGuard;

/// <summary>
/// The DPoP replay cache shared by every replica of one tool, over ASP.NET Core's <see cref="IDistributedCache"/> (Redis
/// through Microsoft.Extensions.Caching.StackExchangeRedis, SQL Server, …): a proof used at one replica is refused at all.
/// This replica's <see cref="DpopReplayCache"/> answers first (atomic, no round trip for a replay here), then the shared
/// cache is read and, for a new proof, written. <see cref="IDistributedCache"/> has no atomic add, so two copies of one
/// proof arriving at two replicas within one read-then-write round trip of each other can both pass; a replay after the
/// first write lands is refused everywhere (docs/toolguard.md, "DPoP replay across replicas"). A cache that cannot be
/// reached refuses the proof (fail closed).
/// </summary>
internal sealed partial class DistributedDpopReplayStore(
    IDistributedCache shared, DpopReplayCache local, IOptions<ToolGuardOptions> options, TimeProvider time, ILogger<DistributedDpopReplayStore> logger)
    : IDpopReplayStore
{
    private static readonly byte[] Seen = [1];

    // One namespace per protected resource: tools that share a cache never see each other's proofs (htu differs anyway).
    private readonly string _prefix = "jitbroker:toolguard:dpop:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(options.Value.Resource)))[..16] + ":";

    public async ValueTask<bool> TryRecordAsync(string key, DateTimeOffset keepUntil, CancellationToken cancellationToken = default)
    {
        if (!await local.TryRecordAsync(key, keepUntil, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        // Hashed: the key holds a jti of up to 256 characters chosen by the client; the cache gets a fixed-size name.
        var name = _prefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        try
        {
            if (await shared.GetAsync(name, cancellationToken).ConfigureAwait(false) is not null)
            {
                return false;
            }

            // A relative lifetime from our clock: MemoryDistributedCache refuses an absolute time it thinks is past.
            var lifetime = keepUntil - time.GetUtcNow();
            await shared.SetAsync(name, Seen, new DistributedCacheEntryOptions
            {
                AbsoluteExpirationRelativeToNow = lifetime > TimeSpan.FromSeconds(1) ? lifetime : TimeSpan.FromSeconds(1),
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogUnavailable(logger, e);
            throw new OAuthProtocolException(OAuthErrors.InvalidDpopProof, ToolGuardReasons.DpopReplayCacheUnavailable,
                "the shared DPoP replay cache cannot be reached; the proof is refused (fail closed)");
        }
    }

    [LoggerMessage(EventId = 4371, EventName = "ToolGuardDpopReplayCacheUnavailable", Level = LogLevel.Error,
        Message = "The shared DPoP replay cache (IDistributedCache) failed; DPoP proofs are refused until it answers")]
    private static partial void LogUnavailable(ILogger logger, Exception exception);
}
