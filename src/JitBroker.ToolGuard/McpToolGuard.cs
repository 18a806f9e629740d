using System.Security.Claims;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace JitBroker.ToolGuard;

/// <summary>
/// MCP over streamable HTTP, judged by the token's <c>tools</c>: a JSON-RPC <c>tools/call</c> for a tool the token does
/// not grant is answered 403 <c>insufficient_scope</c> with <c>scope="tool:&lt;name&gt;"</c> before the MCP server sees it,
/// and a <c>tools/list</c> result (JSON or an SSE <c>data:</c> event) is filtered to the granted tools. Works in front of
/// any MCP server implementation, the official C# SDK included; with the SDK, <see cref="McpToolGrants"/> can also be
/// used from its request filters. Place it after <c>UseAuthentication()</c> and before <c>UseAuthorization()</c>.
/// </summary>
public static class McpToolGuard
{
    /// <summary>The largest JSON-RPC body inspected; bigger ones are refused (413) rather than passed unchecked.</summary>
    public const int MaxBodyBytes = 1 << 20;

    public static IApplicationBuilder UseJitBrokerMcpToolGuard(this IApplicationBuilder app, PathString path) =>
        app.Use(async (http, next) =>
        {
            if (!HttpMethods.IsPost(http.Request.Method) || !http.Request.Path.StartsWithSegments(path)
                || http.User.Identities.All(i => i.AuthenticationType != ToolGuardDefaults.AuthenticationScheme || !i.IsAuthenticated))
            {
                await next(http).ConfigureAwait(false);
                return;
            }

            await GuardAsync(http, next, http.RequestAborted).ConfigureAwait(false);
        });

    private static async Task GuardAsync(HttpContext http, RequestDelegate next, CancellationToken cancellationToken = default)
    {
        var services = http.RequestServices;
        var options = services.GetRequiredService<IOptions<ToolGuardOptions>>().Value;
        var uses = services.GetRequiredService<UseRecorder>();
        var state = ToolGuardRequestState.Of(http);
        var body = await ReadBodyAsync(http, cancellationToken).ConfigureAwait(false);
        var messages = body is null ? null : McpMessages.Parse(body);
        if (messages is null)
        {
            // A JSON-RPC error body (what an MCP client reads) with the same reason header as every other refusal.
            var reason = body is null ? ToolGuardReasons.McpRequestTooLarge : ToolGuardReasons.McpRequestMalformed;
            uses.Refused(http, state, reason);
            http.Response.StatusCode = body is null ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest;
            ToolGuardChallenge.MarkRefused(http, reason);
            await http.Response.WriteAsJsonAsync(new { jsonrpc = "2.0", id = (object?)null, error = new { code = -32700, message = reason } },
                cancellationToken).ConfigureAwait(false);
            return;
        }

        foreach (var call in messages.ToolCalls)
        {
            if (!McpToolGrants.IsGranted(http.User, call))
            {
                uses.Refused(http, state, ToolGuardReasons.ToolNotGranted, tool: call);
                await ToolGuardChallenge.WriteForbiddenAsync(http, state, options, ToolGuardReasons.ToolNotGranted, "tool:" + call, cancellationToken).ConfigureAwait(false);
                return;
            }
        }

        uses.Allowed(http, messages.ToolCalls.Count > 0 ? messages.ToolCalls[0] : null, null, null);
        http.Request.Body = new MemoryStream(body!, writable: false);
        if (!messages.ListsTools)
        {
            await next(http).ConfigureAwait(false);
            return;
        }

        var original = http.Response.Body;
        using var buffer = new MemoryStream();
        http.Response.Body = buffer;
        try
        {
            await next(http).ConfigureAwait(false);
        }
        finally
        {
            http.Response.Body = original;
        }

        var filtered = McpMessages.FilterToolLists(buffer.ToArray(), http.Response.ContentType, ToolGuardClaims.Tools(http.User));
        http.Response.ContentLength = filtered.Length;
        await original.WriteAsync(filtered, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpContext http, CancellationToken cancellationToken = default)
    {
        if (http.Request.ContentLength > MaxBodyBytes)
        {
            return null;
        }

        using var copy = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await http.Request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (copy.Length + read > MaxBodyBytes)
            {
                return null;
            }

            copy.Write(chunk, 0, read);
        }

        return copy.ToArray();
    }
}

/// <summary>For MCP servers that check tools themselves (e.g. the C# SDK's <c>AddCallToolFilter</c>/<c>AddListToolsFilter</c>).</summary>
public static class McpToolGrants
{
    public static bool IsGranted(ClaimsPrincipal user, string tool) => ToolGuardClaims.HasTool(user, tool);

    public static IEnumerable<T> Filter<T>(ClaimsPrincipal user, IEnumerable<T> tools, Func<T, string> nameOf)
    {
        var granted = ToolGuardClaims.Tools(user);
        return tools.Where(t => granted.Contains(nameOf(t), StringComparer.Ordinal));
    }
}

/// <summary>The JSON-RPC messages of one POST: the tools called and whether tools are listed. Null when malformed.</summary>
internal sealed class McpMessages
{
    private McpMessages(List<string> toolCalls, bool listsTools)
    {
        ToolCalls = toolCalls;
        ListsTools = listsTools;
    }

    public IReadOnlyList<string> ToolCalls { get; }

    public bool ListsTools { get; }

    public static McpMessages? Parse(byte[] body)
    {
        try
        {
            using var json = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
            var root = json.RootElement;
            // A name written twice could be read one way here and another way by the server: refuse it.
            if (HasDuplicates(root))
            {
                return null;
            }

            var messages = root.ValueKind == JsonValueKind.Array ? [.. root.EnumerateArray()] : new List<JsonElement> { root };
            var calls = new List<string>();
            var lists = false;
            foreach (var message in messages)
            {
                if (message.ValueKind != JsonValueKind.Object)
                {
                    return null;
                }

                var method = message.TryGetProperty("method", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                if (method == "tools/call")
                {
                    if (!message.TryGetProperty("params", out var p) || p.ValueKind != JsonValueKind.Object
                        || !p.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
                    {
                        return null;
                    }

                    calls.Add(name.GetString()!);
                }

                lists |= method == "tools/list";
            }

            return new McpMessages(calls, lists);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: GetString on an escaped lone surrogate ("\uDC00") — not a name anyone can grant.
            return null;
        }
    }

    /// <summary>Removes ungranted tools from every <c>result.tools</c> in a JSON body or in the SSE events' data.</summary>
    public static byte[] FilterToolLists(byte[] body, string? contentType, IReadOnlyList<string> granted)
    {
        if (contentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true)
        {
            var lines = Encoding.UTF8.GetString(body).Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                if (lines[i].StartsWith("data:", StringComparison.Ordinal))
                {
                    lines[i] = "data: " + FilterJson(lines[i]["data:".Length..].TrimEnd('\r'), granted);
                }
            }

            return Encoding.UTF8.GetBytes(string.Join('\n', lines));
        }

        return Encoding.UTF8.GetBytes(FilterJson(Encoding.UTF8.GetString(body), granted));
    }

    private static string FilterJson(string text, IReadOnlyList<string> granted)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return text; // not JSON (a comment or keep-alive): nothing to filter
        }

        foreach (var message in node is JsonArray array ? [.. array] : new List<JsonNode?> { node })
        {
            if (message?["result"]?["tools"] is JsonArray tools)
            {
                foreach (var tool in tools.ToList())
                {
                    var name = tool?["name"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
                    if (name is null || !granted.Contains(name, StringComparer.Ordinal))
                    {
                        tools.Remove(tool);
                    }
                }
            }
        }

        return node?.ToJsonString() ?? text;
    }

    private static bool HasDuplicates(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Array)
        {
            return element.EnumerateArray().Any(HasDuplicates);
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
        {
            if (!names.Add(property.Name) || HasDuplicates(property.Value))
            {
                return true;
            }
        }

        return false;
    }
}
