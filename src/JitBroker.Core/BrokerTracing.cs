using System.Diagnostics;

namespace JitBroker.Core;

/// <summary>
/// The broker's one <see cref="ActivitySource"/>, named after the product like its Meter: a span per request
/// step (attest, replay, block, decide, mint, record, audit). Costs nothing unless a listener (the host's
/// OpenTelemetry tracer) samples it. Span names are a public contract: <c>jitbroker.&lt;step&gt;</c>.
/// </summary>
public static class BrokerTracing
{
    public const string SourceName = "JitBroker";

    public const string Attest = "attest";
    public const string Replay = "replay";
    public const string Block = "block";
    public const string Decide = "decide";
    public const string Mint = "mint";
    public const string Record = "record";
    public const string Audit = "audit";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>Starts the span of one step (null when nobody listens); dispose it when the step ends.</summary>
    public static Activity? Step(string step) =>
        Source.HasListeners() ? Source.StartActivity("jitbroker." + step, ActivityKind.Internal) : null;

    /// <summary>Runs one step inside its span; a <see cref="BrokerException"/> marks the span failed with its reason code.</summary>
    /// <remarks>Without a listener the step runs as it is: no wrapper state machine per step and request.</remarks>
    public static Task<T> TraceAsync<T>(string step, Func<Task<T>> body) =>
        Source.HasListeners() ? TraceCoreAsync(step, body) : body();

    /// <summary>Runs one step without a result inside its span.</summary>
    public static Task TraceAsync(string step, Func<Task> body) =>
        Source.HasListeners()
            ? TraceCoreAsync(step, async () =>
            {
                await body().ConfigureAwait(false);
                return true;
            })
            : body();

    private static async Task<T> TraceCoreAsync<T>(string step, Func<Task<T>> body)
    {
        using var activity = Step(step);
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (BrokerException ex)
        {
            Fail(activity, ex.Reason);
            throw;
        }
    }

    /// <summary>Marks a step's span as failed with the stable reason code (never a token or message text).</summary>
    public static void Fail(Activity? activity, string reason)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetStatus(ActivityStatusCode.Error, reason);
        activity.SetTag("jitbroker.reason", reason);
    }
}
