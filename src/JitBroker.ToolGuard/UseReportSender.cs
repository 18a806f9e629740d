using System.Net.Http.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace JitBroker.ToolGuard;

/// <summary>
/// Drains <see cref="UseReporter"/> in batches (at most <see cref="UseReportOptions.BatchSize"/>, sent when full or
/// <see cref="UseReportOptions.FlushInterval"/> after the first report) as <c>POST {issuer}/tool-uses</c>
/// <c>{"uses":[…], "client_assertion_type": "…jwt-bearer", "client_assertion": "&lt;workload token&gt;"}</c>: the tool
/// authenticates as for introspection (RFC 7523 §2.2, its JWT-SVID addressed to the broker issuer; the broker's endpoint
/// takes an <c>Authorization: Bearer</c> token only when addressed like a gRPC call, a second audience the tool would
/// need). A batch the broker does not take is logged, dropped and counted: reports never back up into the calls.
/// </summary>
internal sealed partial class UseReportSender(
    UseReporter reporter, IOptions<ToolGuardOptions> options, IHttpClientFactory http, TimeProvider time, ILogger<UseReportSender> logger)
    : BackgroundService
{
    public const string HttpClientName = "JitBroker.ToolGuard";
    public const string JwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        if (!o.UseReports.Enabled)
        {
            return;
        }

        var batch = new List<CredentialUse>(o.UseReports.BatchSize);
        try
        {
            while (await reporter.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                await FillAsync(batch, o.UseReports, stoppingToken).ConfigureAwait(false);
                await SendAsync(batch, stoppingToken).ConfigureAwait(false);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: what is buffered is lost, as a full buffer would be; the host must not wait on the broker.
        }
    }

    private async Task FillAsync(List<CredentialUse> batch, UseReportOptions o, CancellationToken stoppingToken)
    {
        var deadline = time.GetUtcNow() + o.FlushInterval;
        while (batch.Count < o.BatchSize)
        {
            while (batch.Count < o.BatchSize && reporter.Reader.TryRead(out var use))
            {
                batch.Add(use);
            }

            var remaining = deadline - time.GetUtcNow();
            if (batch.Count >= o.BatchSize || remaining <= TimeSpan.Zero)
            {
                return;
            }

            using var wait = new CancellationTokenSource(remaining, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(wait.Token, stoppingToken);
            try
            {
                if (!await reporter.Reader.WaitToReadAsync(linked.Token).ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                return; // the interval is up: send what we have
            }
        }
    }

    private async Task SendAsync(List<CredentialUse> batch, CancellationToken cancellationToken = default)
    {
        var o = options.Value;
        var endpoint = o.UseReports.Endpoint ?? o.Issuer.TrimEnd('/') + "/tool-uses";
        try
        {
            var assertion = o.WorkloadToken is { } workloadToken ? await workloadToken(cancellationToken).ConfigureAwait(false) : null;
            using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
            {
                Content = JsonContent.Create(new UseBatch(batch, assertion is null ? null : JwtBearerAssertionType, assertion)),
            };

            using var client = http.CreateClient(HttpClientName);
            using var response = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                LogBatchRefused(logger, batch.Count, (int)response.StatusCode);
                reporter.CountLost(batch.Count);
                return;
            }

            var answer = await UseBatchAnswer.ReadAsync(response, batch.Count, cancellationToken).ConfigureAwait(false);
            if (answer.Rejected > 0)
            {
                foreach (var (reason, count) in answer.ByReason)
                {
                    reporter.CountRejected(reason, count);
                }

                // Once per batch, counts and reason codes only: which uses (by index) the broker names is in its audit record.
                LogUsesRejected(logger, answer.Rejected, batch.Count, string.Join(", ", answer.ByReason.Select(r => $"{r.Reason} x{r.Count}")));
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogBatchFailed(logger, e, batch.Count);
            reporter.CountLost(batch.Count);
        }
    }

    [LoggerMessage(EventId = 4330, EventName = "ToolGuardUseBatchRefused", Level = LogLevel.Warning,
        Message = "The broker refused a batch of {Count} use reports with HTTP {Status}; they are dropped")]
    private static partial void LogBatchRefused(ILogger logger, int count, int status);

    [LoggerMessage(EventId = 4331, EventName = "ToolGuardUseBatchFailed", Level = LogLevel.Warning,
        Message = "A batch of {Count} use reports could not be sent to the broker; they are dropped")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(EventId = 4370, EventName = "ToolGuardUsesRejected", Level = LogLevel.Warning,
        Message = "The broker rejected {Rejected} of {Count} use reports ({Reasons}); they are not in the audit chain")]
    private static partial void LogUsesRejected(ILogger logger, int rejected, int count, string reasons);

    private sealed record UseBatch(
        [property: JsonPropertyName("uses")] List<CredentialUse> Uses,
        [property: JsonPropertyName("client_assertion_type"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ClientAssertionType,
        [property: JsonPropertyName("client_assertion"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ClientAssertion);
}
