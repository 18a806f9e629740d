using System.Buffers;

namespace JitBroker.Core;

/// <summary>
/// Shape checks on a declared request, before policy sees it. Limits keep a hostile caller from making
/// policy evaluation, leases or audit records arbitrarily large; character sets keep ids safe to use as
/// storage keys and log fields.
/// </summary>
public static class CredentialRequestValidator
{
    public const int MaxIdLength = 128;
    public const int MaxPurposeLength = 1024;
    public const int MaxTools = 32;
    public const int MaxResources = 64;
    public const int MaxResourceLength = 256;
    public const int MaxContextEntries = 32;
    public const int MaxContextValueLength = 1024;
    public const int MaxTargetLength = 512;

    private static readonly SearchValues<char> IdChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@");

    public static void Validate(CredentialRequest request)
    {
        RequireId(request.TaskId, "task_id");
        RequireId(request.Intent.Action, "intent.action");
        if (request.Intent.Purpose.Length > MaxPurposeLength)
        {
            throw Invalid($"intent.purpose is longer than {MaxPurposeLength} characters.");
        }

        if (request.Intent.Tools.Count > MaxTools)
        {
            throw Invalid($"intent.tools has more than {MaxTools} entries.");
        }

        // Indexed loops, not foreach: through IReadOnlyList a foreach boxes an enumerator on every request.
        var tools = request.Intent.Tools;
        for (var i = 0; i < tools.Count; i++)
        {
            RequireId(tools[i], "intent.tools[]");
        }

        if (request.Intent.Resources.Count > MaxResources)
        {
            throw Invalid($"intent.resources has more than {MaxResources} entries.");
        }

        var resources = request.Intent.Resources;
        for (var i = 0; i < resources.Count; i++)
        {
            var resource = resources[i];
            if (resource.Length is 0 or > MaxResourceLength || HasControl(resource))
            {
                throw Invalid($"intent.resources entries must be 1-{MaxResourceLength} printable characters.");
            }

            RequireText(resource, "intent.resources entries");
        }

        if (request.Intent.Context.Count > MaxContextEntries)
        {
            throw Invalid($"intent.context has more than {MaxContextEntries} entries.");
        }

        foreach (var (key, value) in request.Intent.Context)
        {
            RequireId(key, "intent.context key");
            if (value.Length > MaxContextValueLength)
            {
                throw Invalid($"intent.context values are limited to {MaxContextValueLength} characters.");
            }

            RequireText(value, "intent.context values");
        }

        if (request.Target.Length > MaxTargetLength || HasControl(request.Target))
        {
            throw Invalid($"target must be at most {MaxTargetLength} printable characters.");
        }

        RequireText(request.Target, "target");
        if (request.CredentialKind.Length > 64)
        {
            throw Invalid("credential_kind is too long.");
        }

        if (request.RequestedTtl is { } ttl && ttl <= TimeSpan.Zero)
        {
            throw Invalid("requested_ttl must be positive when set.");
        }
    }

    public static void RequireTaskId(string taskId) => RequireId(taskId, "task_id");

    // Messages are built only on failure: this runs on every request, several times.
    private static void RequireId(string value, string field)
    {
        if (value.Length is 0 or > MaxIdLength || value.AsSpan().IndexOfAnyExcept(IdChars) >= 0)
        {
            throw Invalid($"{field} must be 1-{MaxIdLength} characters of [A-Za-z0-9-_.:/@].");
        }
    }

    private static void RequireText(string value, string field)
    {
        if (!StrictUtf8.IsFaithfulText(value))
        {
            throw Invalid($"{field} must be valid UTF-8 text (no invalid bytes, which arrive as U+FFFD, and no unpaired surrogates).");
        }
    }

    private static bool HasControl(string value)
    {
        foreach (var c in value)
        {
            if (char.IsControl(c))
            {
                return true;
            }
        }

        return false;
    }

    private static BrokerException Invalid(string message) => new(BrokerFailure.InvalidArgument, Reasons.RequestInvalid, message);
}
