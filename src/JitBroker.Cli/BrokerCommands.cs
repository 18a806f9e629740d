using System.CommandLine;
using Google.Protobuf;
using JitBroker.Protocol.V1;
using Grpc.Core;

namespace JitBroker.Cli;

/// <summary>The agent-side commands: request, end-task, introspect.</summary>
internal static class BrokerCommands
{
    public static Command Request(CommonOptions common)
    {
        var task = new Option<string>("--task") { Description = "Task id (caller-chosen).", Required = true };
        var action = new Option<string>("--action") { Description = "Declared action, e.g. tickets.create.", Required = true };
        var audience = new Option<string>("--audience") { Description = "Target audience of the credential.", Required = true };
        var tools = new Option<string[]>("--tool") { Description = "Tool the task will call (repeatable).", AllowMultipleArgumentsPerToken = false };
        var resources = new Option<string[]>("--resource") { Description = "Resource the task touches (repeatable)." };
        var purpose = new Option<string>("--purpose") { Description = "Why the task needs the credential.", DefaultValueFactory = _ => "" };
        var ttl = new Option<int?>("--ttl") { Description = "Requested lifetime in seconds." };
        var kind = new Option<string>("--kind") { Description = "Credential kind (default: the broker's default, jwt).", DefaultValueFactory = _ => "" };
        var command = new Command("request", "Request a task-scoped credential.") { task, action, audience, tools, resources, purpose, ttl, kind };
        common.AddTo(command);
        command.SetAction((result, ct) => Run(common, result, async (client, identity, timeout) =>
        {
            var request = BrokerClient.NewRequest(result.GetValue(task)!, result.GetValue(action)!, result.GetValue(audience)!,
                result.GetValue(tools), result.GetValue(resources), result.GetValue(purpose)!,
                result.GetValue(ttl) is { } s ? TimeSpan.FromSeconds(s) : null, result.GetValue(kind)!);
            var response = await client.RequestCredentialAsync(identity, request, timeout, ct);
            if (result.GetValue(common.Json))
            {
                Console.WriteLine(JsonFormatter.Default.Format(response));
                return ExitCodes.Ok;
            }

            Table.Print(
                ("lease", response.LeaseId),
                ("expires", $"{response.ExpiresAt.ToDateTimeOffset():O} (ttl {response.GrantedTtl.ToTimeSpan().TotalSeconds:0}s)"),
                ("audience", response.Scope.Audience),
                ("action", response.Scope.Action),
                ("tools", string.Join(", ", response.Scope.Tools)),
                ("resources", string.Join(", ", response.Scope.Resources)),
                ("rules", string.Join(", ", response.RuleIds)),
                ("kind", response.Credential.Kind),
                ("credential", response.Credential.Token));
            return ExitCodes.Ok;
        }));
        return command;
    }

    public static Command EndTask(CommonOptions common)
    {
        var task = new Option<string>("--task") { Description = "Task id to end.", Required = true };
        var command = new Command("end-task", "End a task: revoke every lease the caller holds for it.") { task };
        common.AddTo(command);
        command.SetAction((result, ct) => Run(common, result, async (client, identity, timeout) =>
        {
            var response = await client.EndTaskAsync(identity, result.GetValue(task)!, timeout, ct);
            if (result.GetValue(common.Json))
            {
                Console.WriteLine(JsonFormatter.Default.Format(response));
            }
            else
            {
                Table.PrintRows(["LEASE", "OUTCOME", "ERROR"],
                    response.Leases.Select(l => new[] { l.LeaseId, l.Outcome.ToString(), l.Error }));
            }

            return response.Leases.Any(l => l.Outcome == LeaseOutcome.Types.Outcome.Failed) ? ExitCodes.OtherError : ExitCodes.Ok;
        }));
        return command;
    }

    public static Command Introspect(CommonOptions common)
    {
        var credential = new Option<string>("--credential") { Description = "The task credential to check: '-' reads stdin, @FILE a file (a literal is visible in /proc).", Required = true };
        var command = new Command("introspect", "Ask whether a task credential is active (exit 0 active, 1 inactive).") { credential };
        common.AddTo(command);
        command.SetAction((result, ct) => Run(common, result, async (client, identity, timeout) =>
        {
            var value = await TokenInput.ReadAsync(result.GetValue(credential)!, "--credential", ct);

            var response = await client.IntrospectAsync(identity, value, timeout, ct);
            if (result.GetValue(common.Json))
            {
                Console.WriteLine(JsonFormatter.Default.Format(response));
            }
            else if (!response.Active)
            {
                Console.WriteLine("inactive");
            }
            else
            {
                Table.Print(("active", "true"), ("lease", response.LeaseId), ("subject", response.Subject),
                    ("audience", response.Audience), ("task", response.TaskId), ("action", response.Action),
                    ("tools", string.Join(", ", response.Tools)), ("resources", string.Join(", ", response.Resources)),
                    ("expires", response.ExpiresAt.ToDateTimeOffset().ToString("O")));
            }

            return response.Active ? ExitCodes.Ok : ExitCodes.Negative;
        }));
        return command;
    }

    /// <summary>Runs one call with uniform error reporting and exit codes.</summary>
    internal static async Task<int> Run(CommonOptions common, ParseResult result, Func<BrokerClient, string, TimeSpan, Task<int>> call)
    {
        try
        {
            var identity = await common.ResolveIdentityAsync(result);
            using var client = common.CreateClient(result);
            return await call(client, identity, common.Timeout(result));
        }
        catch (UsageException ex)
        {
            await Console.Error.WriteLineAsync("error: " + ex.Message);
            return ExitCodes.Usage;
        }
        catch (RpcException ex)
        {
            await Console.Error.WriteLineAsync($"error: {StatusNames.Of(ex.StatusCode)}: {ex.Status.Detail}");
            return ExitCodes.From(ex.StatusCode);
        }
    }
}
