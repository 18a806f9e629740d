using System.Diagnostics.Metrics;
using JitBroker.Core;

namespace JitBroker.Attestation;

/// <summary>
/// A verified-token cache's counters on the broker's meter, read when exported (so the request path only increments
/// integers): <c>jitbroker.attestation.token_cache.lookups</c> by outcome (hit, miss), <c>….removals</c> by cause
/// (stale: keys changed or time claims lapsed; evicted: the cache was full) and the <c>….entries</c> gauge; each
/// tagged with the attestation method.
/// </summary>
internal static class VerifiedTokenCacheMetrics
{
    public const string TagMethod = "method";
    public const string TagCause = "cause";

    public static void Register(BrokerMetrics? metrics, string method, VerifiedTokenCache? cache)
    {
        if (metrics is null || cache is null)
        {
            return;
        }

        var meter = metrics.Meter;
        var methodTag = new KeyValuePair<string, object?>(TagMethod, method);
        meter.CreateObservableCounter("jitbroker.attestation.token_cache.lookups", () =>
        {
            var c = cache.Counters;
            return new[]
            {
                new Measurement<long>(c.Hits, methodTag, new(BrokerMetrics.TagOutcome, "hit")),
                new Measurement<long>(c.Misses, methodTag, new(BrokerMetrics.TagOutcome, "miss")),
            };
        }, "{lookup}", "Verified-token cache lookups by outcome.");
        meter.CreateObservableCounter("jitbroker.attestation.token_cache.removals", () =>
        {
            var c = cache.Counters;
            return new[]
            {
                new Measurement<long>(c.Dropped, methodTag, new(TagCause, "stale")),
                new Measurement<long>(c.Evicted, methodTag, new(TagCause, "evicted")),
            };
        }, "{entry}", "Verified-token cache entries removed: stale (keys replaced, time claims lapsed) or evicted (cache full).");
        meter.CreateObservableGauge("jitbroker.attestation.token_cache.entries", () => new Measurement<long>(cache.Count, methodTag),
            "{entry}", "Tokens in the verified-token cache.");
    }
}
