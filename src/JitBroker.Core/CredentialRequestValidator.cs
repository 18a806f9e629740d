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
        Require(request.Intent.Purpose.Length <= MaxPurposeLength, $"intent.purpose is longer than {MaxPurposeLength} characters.");
        Require(request.Intent.Tools.Count <= MaxTools, $"intent.tools has more than {MaxTools} entries.");
        foreach (var tool in request.Intent.Tools)
        {
            RequireId(tool, "intent.tools[]");
        }

        Require(request.Intent.Resources.Count <= MaxResources, $"intent.resources has more than {MaxResources} entries.");
        foreach (var resource in request.Intent.Resources)
        {
            Require(resource.Length is > 0 and <= MaxResourceLength && !resource.Any(char.IsControl),
                $"intent.resources entries must be 1-{MaxResourceLength} printable characters.");
            Require(StrictUtf8.IsFaithfulText(resource), NotUtf8("intent.resources entries"));
        }

        Require(request.Intent.Context.Count <= MaxContextEntries, $"intent.context has more than {MaxContextEntries} entries.");
        foreach (var (key, value) in request.Intent.Context)
        {
            RequireId(key, "intent.context key");
            Require(value.Length <= MaxContextValueLength, $"intent.context values are limited to {MaxContextValueLength} characters.");
            Require(StrictUtf8.IsFaithfulText(value), NotUtf8("intent.context values"));
        }

        Require(request.Target.Length <= MaxTargetLength && !request.Target.Any(char.IsControl),
            $"target must be at most {MaxTargetLength} printable characters.");
        Require(StrictUtf8.IsFaithfulText(request.Target), NotUtf8("target"));
        Require(request.CredentialKind.Length <= 64, "credential_kind is too long.");
        Require(request.RequestedTtl is null || request.RequestedTtl > TimeSpan.Zero, "requested_ttl must be positive when set.");
    }

    public static void RequireTaskId(string taskId) => RequireId(taskId, "task_id");

    private static void RequireId(string value, string field) =>
        Require(value.Length is > 0 and <= MaxIdLength && value.AsSpan().IndexOfAnyExcept(IdChars) < 0,
            $"{field} must be 1-{MaxIdLength} characters of [A-Za-z0-9-_.:/@].");

    private static string NotUtf8(string field) =>
        $"{field} must be valid UTF-8 text (no invalid bytes, which arrive as U+FFFD, and no unpaired surrogates).";

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestInvalid, message);
        }
    }
}
