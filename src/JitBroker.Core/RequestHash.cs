using System.Globalization;

namespace JitBroker.Core;

/// <summary>
/// SHA-256 over a canonical form of (agent, request): what an approval is bound to and what bound-mode
/// replay compares. Field order fixed, lists kept in request order, every field length-prefixed so no two
/// different requests can serialise alike.
/// </summary>
/// <remarks>
/// The canonical form is text — <c>&lt;UTF-16 length&gt;:&lt;value&gt;</c> per field, <c>&lt;count&gt;[...]</c> per list —
/// hashed as UTF-8. It is written straight to UTF-8 (<see cref="CanonicalWriter"/>), byte for byte what encoding the whole
/// text at once gives: every value sits between ASCII separators, so no surrogate pair can straddle two writes.
/// </remarks>
public static partial class RequestHash
{
    public static string Of(string agentId, CredentialRequest request)
    {
        var canonical = new CanonicalWriter(stackalloc byte[512]);
        try
        {
            canonical.Append("v1");
            canonical.Append(agentId);
            canonical.Append(request.TaskId);
            canonical.Append(request.Intent.Action);
            canonical.Append(request.Intent.Purpose);
            AppendList(ref canonical, request.Intent.Tools);
            AppendList(ref canonical, request.Intent.Resources);
            AppendContext(ref canonical, request.Intent.Context);
            canonical.Append(request.CredentialKind);
            canonical.Append(request.Target);
            if (request.RequestedTtl is { } ttl)
            {
                canonical.AppendNumberText((long)ttl.TotalMilliseconds);
            }
            else
            {
                canonical.Append("-");
            }

            return canonical.Sha256Text();
        }
        finally
        {
            canonical.Dispose();
        }
    }

    /// <summary>The binding of bound-mode replay protection: the agent and the task, nothing else.</summary>
    public static string ForTask(string agentId, string taskId)
    {
        // Once per request: the canonical bytes stay on the stack, the hex is the one string allocated.
        var canonical = new CanonicalWriter(stackalloc byte[256]);
        try
        {
            canonical.Append("task-v1");
            canonical.Append(agentId);
            canonical.Append(taskId);
            return canonical.Sha256Text();
        }
        finally
        {
            canonical.Dispose();
        }
    }

    private static void AppendList(ref CanonicalWriter canonical, IReadOnlyList<string> values)
    {
        canonical.AppendCount(values.Count);
        foreach (var value in values)
        {
            canonical.Append(value);
        }

        canonical.AppendByte((byte)']');
    }

    // The context as one list: key, value, key, value, ... in ordinal key order (keys are unique, so the order is total).
    private static void AppendContext(ref CanonicalWriter canonical, IReadOnlyDictionary<string, string> context)
    {
        var entries = context.ToArray();
        Array.Sort(entries, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        canonical.AppendCount(2 * entries.Length);
        foreach (var (key, value) in entries)
        {
            canonical.Append(key);
            canonical.Append(value);
        }

        canonical.AppendByte((byte)']');
    }

    private static int FormatInvariant(long value, Span<byte> destination) =>
        value.TryFormat(destination, out var written, default, CultureInfo.InvariantCulture) ? written
            : throw new InvalidOperationException("A 64-bit integer did not fit 20 bytes.");
}
