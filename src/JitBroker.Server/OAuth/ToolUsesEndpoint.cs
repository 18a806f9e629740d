using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using JitBroker.Core;
using JitBroker.Core.Handlers;
using JitBroker.OAuth;
using Microsoft.Net.Http.Headers;

namespace JitBroker.Server.OAuth;

/// <summary>
/// <c>POST {issuer}/tool-uses</c>: ReportUses over HTTP for tools that do not speak gRPC, over the same
/// <see cref="ReportUsesHandler"/>. The caller authenticates like introspection's (<see cref="OAuthClientAuthentication"/>:
/// a bearer workload token, an X.509-SVID, or <c>client_assertion_type</c> + <c>client_assertion</c> members beside
/// <c>uses</c>). The body is parsed strictly: <c>application/json</c>, at most 1 MiB, UTF-8, no duplicate or unknown
/// members, every member of its documented type, <c>at</c> an RFC 3339 time with an offset. A body that is not exactly
/// that is refused whole (400, <see cref="Reasons.ToolUse.BodyInvalid"/>); single uses are judged by the handler.
/// </summary>
internal sealed class ToolUsesEndpoint(ReportUsesHandler reportUses, OAuthClientAuthentication clients, OAuthEndpointRunner runner)
{
    public const string Path = "/tool-uses";
    public const int MaxBodyBytes = 1024 * 1024;

    private static readonly JsonDocumentOptions Strict = new() { AllowDuplicateProperties = false, MaxDepth = 8 };
    private static readonly string[] UseMembers = ["credential_fingerprint", "lease_id", "tool", "action", "resource", "outcome", "reason", "at", "audience"];

    public Task HandleAsync(HttpContext http) => runner.RunAsync(http, callerIsClient: true, async cancellationToken =>
    {
        var body = await ReadBodyAsync(http, cancellationToken).ConfigureAwait(false);
        var (uses, assertionType, assertion) = Parse(body);
        var evidence = clients.Evidence(http, AuthenticationForm(assertionType, assertion), Path);
        var result = await reportUses.HandleAsync(evidence, uses, cancellationToken).ConfigureAwait(false);
        await OAuthResponses.WriteJsonAsync(http, StatusCodes.Status200OK, w =>
        {
            w.WriteNumber("accepted", result.Accepted);
            w.WriteNumber("rejected", result.Rejected);
            w.WriteStartArray("rejected_reasons");
            foreach (var reason in result.RejectedReasons)
            {
                w.WriteStringValue(reason);
            }

            w.WriteEndArray();
        }).ConfigureAwait(false);
    });

    /// <summary>Parses the body; any deviation from the documented shape is <see cref="Reasons.ToolUse.BodyInvalid"/>.</summary>
    internal static (List<CredentialUseReport> Uses, string? AssertionType, string? Assertion) Parse(ReadOnlyMemory<byte> body)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, Strict);
        }
        catch (JsonException)
        {
            throw Invalid("the body is not one JSON document (UTF-8, no duplicate members)");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Invalid("the body must be a JSON object");
            }

            List<CredentialUseReport>? uses = null;
            string? assertionType = null, assertion = null;
            foreach (var member in root.EnumerateObject())
            {
                switch (member.Name)
                {
                    case "uses" when member.Value.ValueKind == JsonValueKind.Array:
                        uses = ReadUses(member.Value);
                        break;
                    case "client_assertion_type":
                        assertionType = String(member.Value, member.Name);
                        break;
                    case "client_assertion":
                        assertion = String(member.Value, member.Name);
                        break;
                    default:
                        throw Invalid($"unexpected member '{Printable(member.Name)}' (or 'uses' is not an array)");
                }
            }

            return (uses ?? throw Invalid("'uses' is required"), assertionType, assertion);
        }
    }

    private static List<CredentialUseReport> ReadUses(JsonElement array)
    {
        if (array.GetArrayLength() > ReportUsesHandler.MaxUses)
        {
            throw new BrokerException(BrokerFailure.InvalidArgument, Reasons.ToolUse.BatchTooLarge, $"At most {ReportUsesHandler.MaxUses} uses per call.");
        }

        var uses = new List<CredentialUseReport>(array.GetArrayLength());
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw Invalid("every entry of 'uses' must be an object");
            }

            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var member in item.EnumerateObject())
            {
                if (Array.IndexOf(UseMembers, member.Name) < 0)
                {
                    throw Invalid($"unexpected member '{Printable(member.Name)}' in a use");
                }

                fields[member.Name] = String(member.Value, member.Name);
            }

            string Field(string name) => fields.GetValueOrDefault(name, "");
            uses.Add(new CredentialUseReport(Field("credential_fingerprint"), Field("lease_id"), Field("tool"), Field("action"), Field("resource"),
                Field("outcome"), Field("reason"), fields.TryGetValue("at", out var at) ? Rfc3339(at) : null, Field("audience")));
        }

        return uses;
    }

    /// <summary>RFC 3339 §5.6 date-time: full date, 'T', time with optional fraction, and 'Z' or a numeric offset.</summary>
    internal static DateTimeOffset Rfc3339(string value)
    {
        var hasOffset = value.EndsWith('Z') || (value.Length > 6 && value[^6] is '+' or '-' && value[^3] == ':');
        return hasOffset && value.Length <= 40 && DateTimeOffset.TryParseExact(value, ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK"],
                CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var at)
            ? at
            : throw Invalid("'at' must be an RFC 3339 date-time with an offset, like 2026-12-03T08:00:00.123Z");
    }

    private static string String(JsonElement value, string name)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            throw Invalid($"'{Printable(name)}' must be a string");
        }

        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // The reader validates string contents lazily: invalid UTF-8 (or an escaped lone surrogate) surfaces here.
            throw Invalid($"'{Printable(name)}' is not valid UTF-8");
        }
    }

    // Client authentication reads a form; the JSON members are carried over as one, so both doors authenticate alike.
    private static OAuthForm AuthenticationForm(string? assertionType, string? assertion)
    {
        var form = new StringBuilder();
        if (assertionType is not null)
        {
            form.Append("client_assertion_type=").Append(Uri.EscapeDataString(assertionType));
        }

        if (assertion is not null)
        {
            form.Append(form.Length > 0 ? "&" : "").Append("client_assertion=").Append(Uri.EscapeDataString(assertion));
        }

        return OAuthForm.Parse(Encoding.UTF8.GetBytes(form.ToString()));
    }

    private static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpContext http, CancellationToken cancellationToken)
    {
        var request = http.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type) || !type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (type.Charset.HasValue && !type.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase)))
        {
            throw Invalid("the body must be application/json (UTF-8)");
        }

        if (request.ContentLength > MaxBodyBytes)
        {
            throw TooLarge();
        }

        // At most one byte more than allowed is read: a body without (or lying about) Content-Length is cut off, not buffered whole.
        var buffer = ArrayPool<byte>.Shared.Rent(MaxBodyBytes + 1);
        try
        {
            var length = 0;
            while (length <= MaxBodyBytes)
            {
                var read = await request.Body.ReadAsync(buffer.AsMemory(length, MaxBodyBytes + 1 - length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            return length > MaxBodyBytes ? throw TooLarge() : buffer.AsSpan(0, length).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true); // it may hold a client assertion
        }
    }

    private static string Printable(string name) => name.Length <= 64 && !name.Any(char.IsControl) ? name : "…";

    private static BrokerException TooLarge() =>
        new(BrokerFailure.InvalidArgument, Reasons.ToolUse.BatchTooLarge, $"The request body is larger than {MaxBodyBytes} bytes.");

    private static OAuthProtocolException Invalid(string why) =>
        new(OAuthErrors.InvalidRequest, Reasons.ToolUse.BodyInvalid, $"Invalid tool-uses body: {why}.");
}
