using JitBroker.Examples.McpTickets;
using JitBroker.ToolGuard;

// The tickets MCP server. Configuration (appsettings, environment TICKETS__…/ToolGuard__…, or command line):
//   ToolGuard:Issuer            the broker's issuer (metadata, JWKS, introspection and use reports from it)
//   ToolGuard:Resource          this server's canonical URL; the only audience accepted. Default: <first URL>/mcp
//   ToolGuard:Introspection:CacheDuration / :Enabled, ToolGuard:AllowInsecureHttpForLoopback, … (docs/toolguard.md)
//   Tickets:WorkloadTokenFile   a file holding this server's JWT-SVID (audience = the issuer); read on every use so a
//                               rotated SVID is picked up (SPIFFE helper writes it). Tickets:WorkloadToken: the SVID itself (dev only).
var builder = WebApplication.CreateBuilder(args);
var guard = builder.Configuration.GetSection("ToolGuard");
var tickets = builder.Configuration.GetSection("Tickets");
var ownUrl = (builder.Configuration["urls"] ?? "http://127.0.0.1:8062").Split(';')[0].TrimEnd('/');

builder.Services.AddSingleton<TicketStore>();
builder.Services.AddJitBrokerToolGuard(o =>
{
    guard.Bind(o);
    o.Resource = string.IsNullOrEmpty(o.Resource) ? ownUrl + "/mcp" : o.Resource;
    o.Tools = ["tickets.get", "tickets.comment", "tickets.close"];
    o.WorkloadToken = WorkloadTokenSource.From(tickets["WorkloadTokenFile"], tickets["WorkloadToken"]);
});
builder.Services.AddMcpServer(o => o.ServerInfo = new() { Name = "mcp-tickets", Version = "1.0.0" })
    .WithHttpTransport(o => o.Stateless = true) // every request carries its own token; no session outlives a revocation
    .WithTools<TicketTools>();

var app = builder.Build();
app.UseAuthentication();
app.UseJitBrokerMcpToolGuard("/mcp"); // tools/call of an ungranted tool → 403 insufficient_scope; tools/list filtered
app.UseAuthorization();
app.MapJitBrokerProtectedResourceMetadata();
app.MapGet("/healthz", () => "ok");
app.MapMcp("/mcp").RequireJitBrokerToken();
app.Run();
