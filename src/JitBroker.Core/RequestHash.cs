using System.Security.Cryptography;
using System.Text;

namespace JitBroker.Core;

/// <summary>
/// SHA-256 over a canonical form of (agent, request): what an approval is bound to and what bound-mode
/// replay compares. Field order fixed, lists kept in request order, every field length-prefixed so no two
/// different requests can serialise alike.
/// </summary>
public static class RequestHash
{
    public static string Of(string agentId, CredentialRequest request)
    {
        var builder = new StringBuilder(256);
        Append(builder, "v1");
        Append(builder, agentId);
        Append(builder, request.TaskId);
        Append(builder, request.Intent.Action);
        Append(builder, request.Intent.Purpose);
        AppendList(builder, request.Intent.Tools);
        AppendList(builder, request.Intent.Resources);
        AppendList(builder, [.. request.Intent.Context.OrderBy(kv => kv.Key, StringComparer.Ordinal).SelectMany(kv => new[] { kv.Key, kv.Value })]);
        Append(builder, request.CredentialKind);
        Append(builder, request.Target);
        Append(builder, request.RequestedTtl is { } ttl ? ((long)ttl.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture) : "-");
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(builder.ToString())));
    }

    /// <summary>The binding of bound-mode replay protection: the agent and the task, nothing else.</summary>
    public static string ForTask(string agentId, string taskId)
    {
        var builder = new StringBuilder(128);
        Append(builder, "task-v1");
        Append(builder, agentId);
        Append(builder, taskId);
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(builder.ToString())));
    }

    private static void AppendList(StringBuilder builder, IReadOnlyList<string> values)
    {
        builder.Append(values.Count).Append('[');
        foreach (var value in values)
        {
            Append(builder, value);
        }

        builder.Append(']');
    }

    private static void Append(StringBuilder builder, string value) => builder.Append(value.Length).Append(':').Append(value);
}
