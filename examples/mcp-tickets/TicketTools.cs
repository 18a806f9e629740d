using System.Collections.Concurrent;
using System.ComponentModel;
using ModelContextProtocol.Server;

namespace JitBroker.Examples.McpTickets;

/// <summary>
/// Three tools over an in-memory ticket store. They know nothing of tokens: the ToolGuard middleware in front of /mcp
/// has already refused a call to a tool the token does not name, so each tool only does its work.
/// </summary>
[McpServerToolType]
public sealed class TicketTools(TicketStore store)
{
    [McpServerTool(Name = "tickets.get", ReadOnly = true), Description("Reads a ticket: its title, status and comments.")]
    public string Get([Description("The ticket id, e.g. 42")] string id) =>
        store.Find(id) is { } t ? $"ticket {id}: {t.Title} [{t.Status}] comments={t.Comments.Count}" : $"ticket {id}: not found";

    [McpServerTool(Name = "tickets.comment"), Description("Adds a comment to a ticket.")]
    public string Comment([Description("The ticket id")] string id, [Description("The comment text")] string text) =>
        store.Find(id) is { } t ? $"ticket {id}: comment {t.AddComment(text)} added" : $"ticket {id}: not found";

    [McpServerTool(Name = "tickets.close", Destructive = true), Description("Closes a ticket.")]
    public string Close([Description("The ticket id")] string id) =>
        store.Find(id) is { } t ? $"ticket {id}: {t.Close()}" : $"ticket {id}: not found";
}

/// <summary>The demo's tickets; a real server would call its ticketing system here.</summary>
public sealed class TicketStore
{
    private readonly ConcurrentDictionary<string, Ticket> _tickets = new(StringComparer.Ordinal)
    {
        ["42"] = new Ticket("Customer cannot log in after the outage"),
        ["43"] = new Ticket("Invoice shows the wrong address"),
    };

    public Ticket? Find(string id) => _tickets.TryGetValue(id, out var t) ? t : null;
}

public sealed class Ticket(string title)
{
    private readonly Lock _gate = new();

    public string Title { get; } = title;

    public string Status { get; private set; } = "open";

    public List<string> Comments { get; } = [];

    public int AddComment(string text)
    {
        lock (_gate)
        {
            Comments.Add(text);
            return Comments.Count;
        }
    }

    public string Close()
    {
        lock (_gate)
        {
            Status = "closed";
            return Status;
        }
    }
}
