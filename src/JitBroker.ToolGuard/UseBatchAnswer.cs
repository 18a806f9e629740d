using System.Text.Json;
using System.Text.RegularExpressions;

namespace JitBroker.ToolGuard;

/// <summary>
/// The broker's answer to a batch of use reports: <c>{"accepted": n, "rejected": m, "rejected_reasons": ["&lt;index&gt;:&lt;reason&gt;", …]}</c>.
/// Rejected uses are grouped by reason code; a reason that is missing or not a dotted lowercase code becomes
/// <see cref="Unspecified"/>, so a metric tag never carries free text and its cardinality stays bounded.
/// </summary>
internal sealed partial record UseBatchAnswer(int Rejected, IReadOnlyList<(string Reason, int Count)> ByReason)
{
    public const string Unspecified = "unspecified";

    private static readonly UseBatchAnswer Nothing = new(0, []);

    /// <param name="sent">Uses in the batch: a claim of more rejections than that is taken as all of them.</param>
    public static async Task<UseBatchAnswer> ReadAsync(HttpResponseMessage response, int sent, CancellationToken cancellationToken = default)
    {
        try
        {
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            return body.Length == 0 ? Nothing : Parse(body, sent);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return Nothing; // the batch was taken (2xx); an answer we cannot read says nothing about rejections
        }
    }

    internal static UseBatchAnswer Parse(byte[] body, int sent)
    {
        using var json = JsonDocument.Parse(body);
        var root = json.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("rejected", out var rejected)
            || !rejected.TryGetInt32(out var count) || count <= 0)
        {
            return Nothing;
        }

        count = Math.Min(count, sent);
        var reasons = new List<string>();
        if (root.TryGetProperty("rejected_reasons", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in list.EnumerateArray().Take(count))
            {
                var text = item.ValueKind == JsonValueKind.String ? item.GetString() ?? "" : "";
                var reason = text[(text.IndexOf(':') + 1)..];
                reasons.Add(reason.Length <= 64 && ReasonCode().IsMatch(reason) ? reason : Unspecified);
            }
        }

        reasons.AddRange(Enumerable.Repeat(Unspecified, count - reasons.Count));
        return new UseBatchAnswer(count, [.. reasons.GroupBy(r => r, StringComparer.Ordinal).Select(g => (g.Key, g.Count())).OrderBy(r => r.Key, StringComparer.Ordinal)]);
    }

    [GeneratedRegex("^[a-z0-9_]+(\\.[a-z0-9_]+)+$", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex ReasonCode();
}
