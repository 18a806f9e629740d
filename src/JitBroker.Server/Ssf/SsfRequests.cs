using System.Text.Json;
using JitBroker.Core;

namespace JitBroker.Server.Ssf;

/// <summary>A refusal of the stream management API: its HTTP status, a stable reason code and a message for the receiver.</summary>
public sealed class SsfException(int status, string reason, string message) : Exception(message)
{
    public int Status { get; } = status;

    public string Reason { get; } = reason;

    public static SsfException Invalid(string message) => new(StatusCodes.Status400BadRequest, Reasons.Ssf.RequestInvalid, message);
}

/// <summary>
/// What a receiver may send to the configuration endpoint (SSF 1.0 §8.1.1), read strictly: a JSON object of at most
/// <see cref="MaxBodyBytes"/>, known members of the right types only (a transmitter-supplied member such as
/// <c>events_supported</c> is ignored, as §8.1.1 allows when it matches; an unknown member is refused).
/// </summary>
public sealed record StreamRequest(string? StreamId, string? EndpointUrl, string? DeliveryMethod, string? AuthorizationHeader,
    IReadOnlyList<string>? EventsRequested, IReadOnlyList<string>? Audiences, string? Description, string? Status, string? Reason, string? State)
{
    public const int MaxBodyBytes = 16 * 1024;
    public const string PushMethod = "urn:ietf:rfc:8935";

    private static readonly HashSet<string> Known = new(StringComparer.Ordinal)
    {
        "stream_id", "delivery", "events_requested", "aud", "description", "status", "reason", "state",
        "iss", "events_supported", "events_delivered", "min_verification_interval", "inactivity_timeout",
    };

    public static async Task<StreamRequest> ReadAsync(HttpContext http, CancellationToken cancellationToken = default)
    {
        if (http.Request.ContentLength > MaxBodyBytes)
        {
            throw TooLarge();
        }

        var buffer = new byte[MaxBodyBytes + 1];
        var length = 0;
        int read;
        while (length <= MaxBodyBytes && (read = await http.Request.Body.ReadAsync(buffer.AsMemory(length, MaxBodyBytes + 1 - length), cancellationToken).ConfigureAwait(false)) > 0)
        {
            length += read;
        }

        if (length > MaxBodyBytes)
        {
            throw TooLarge();
        }

        try
        {
            using var document = JsonDocument.Parse(buffer.AsMemory(0, length), new JsonDocumentOptions { MaxDepth = 8 });
            return Parse(document.RootElement);
        }
        catch (JsonException)
        {
            throw SsfException.Invalid("The body must be one JSON object (UTF-8).");
        }
        catch (ArgumentException)
        {
            throw SsfException.Invalid("The body must be valid UTF-8 JSON.");
        }
    }

    internal static StreamRequest Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw SsfException.Invalid("The body must be a JSON object.");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in root.EnumerateObject())
        {
            if (!Known.Contains(p.Name))
            {
                throw SsfException.Invalid($"Unknown member '{Trim(p.Name)}'.");
            }

            if (!seen.Add(p.Name))
            {
                throw SsfException.Invalid($"Member '{p.Name}' appears twice.");
            }
        }

        string? endpoint = null, method = null, authorization = null;
        if (root.TryGetProperty("delivery", out var delivery))
        {
            if (delivery.ValueKind != JsonValueKind.Object)
            {
                throw SsfException.Invalid("delivery must be an object.");
            }

            method = String(delivery, "method");
            endpoint = String(delivery, "endpoint_url");
            authorization = String(delivery, "authorization_header");
        }

        IReadOnlyList<string>? audiences = null;
        if (root.TryGetProperty("aud", out var aud))
        {
            audiences = aud.ValueKind == JsonValueKind.String ? [aud.GetString()!] : Strings(root, "aud");
        }

        return new StreamRequest(String(root, "stream_id"), endpoint, method, authorization, Strings(root, "events_requested"), audiences,
            String(root, "description"), String(root, "status"), String(root, "reason"), String(root, "state"));
    }

    private static string? String(JsonElement o, string name)
    {
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.String || v.GetString() is not { Length: > 0 and <= 2048 } s)
        {
            throw SsfException.Invalid($"{name} must be a non-empty string of at most 2048 characters.");
        }

        return s;
    }

    private static List<string>? Strings(JsonElement o, string name)
    {
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() > 64
            || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String || e.GetString() is not { Length: > 0 and <= 512 }))
        {
            throw SsfException.Invalid($"{name} must be an array of at most 64 non-empty strings.");
        }

        return [.. v.EnumerateArray().Select(e => e.GetString()!).Distinct(StringComparer.Ordinal)];
    }

    private static string Trim(string s) => s.Length > 64 ? s[..64] + "…" : s;

    private static SsfException TooLarge() => new(StatusCodes.Status413PayloadTooLarge, Reasons.Ssf.RequestInvalid, $"The body is larger than {MaxBodyBytes} bytes.");
}
