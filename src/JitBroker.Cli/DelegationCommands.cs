using System.CommandLine;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using JitBroker.Protocol.V1;

namespace JitBroker.Cli;

/// <summary>Agent-side delegation: the planner offers, the worker redeems with its own identity.</summary>
internal static class DelegationCommands
{
    public static IEnumerable<Command> Create(CommonOptions common) => [Offer(common), Redeem(common)];

    private static Command Offer(CommonOptions common)
    {
        var parent = new Option<string>("--parent-lease") { Description = "Your own active lease to delegate from.", Required = true };
        var worker = new Option<string>("--worker") { Description = "The worker's identity (SPIFFE ID).", Required = true };
        var tools = new Option<string[]>("--tool") { Description = "Tool to pass on (subset of the parent's; repeatable)." };
        var resources = new Option<string[]>("--resource") { Description = "Resource to pass on (subset of the parent's; repeatable)." };
        var ttl = new Option<int?>("--ttl") { Description = "Lifetime in seconds (at most the parent's remaining)." };
        var command = new Command("offer-delegation", "Planner: offer a narrower slice of a lease to a named worker (prints a single-use offer).")
            { parent, worker, tools, resources, ttl };
        common.AddTo(command);
        command.SetAction((r, ct) => BrokerCommands.Run(common, r, async (client, identity, timeout) =>
        {
            var request = new OfferDelegationRequest
            {
                ParentLeaseId = r.GetValue(parent)!, WorkerId = r.GetValue(worker)!,
                RequestedTtl = r.GetValue(ttl) is { } s ? Duration.FromTimeSpan(TimeSpan.FromSeconds(s)) : null,
            };
            request.Tools.AddRange(r.GetValue(tools) ?? []);
            request.Resources.AddRange(r.GetValue(resources) ?? []);
            var response = await client.OfferDelegationAsync(identity, request, timeout, ct);
            Console.WriteLine(r.GetValue(common.Json) ? JsonFormatter.Default.Format(response) : response.Offer);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Redeem(CommonOptions common)
    {
        var offer = new Option<string>("--offer") { Description = "The offer the planner handed you: '-' reads stdin, @FILE a file (a literal is visible in /proc).", Required = true };
        var command = new Command("delegate", "Worker: redeem a delegation offer with your own identity for a child credential.") { offer };
        common.AddTo(command);
        command.SetAction((r, ct) => BrokerCommands.Run(common, r, async (client, identity, timeout) =>
        {
            var value = await TokenInput.ReadAsync(r.GetValue(offer)!, "--offer", ct);

            var response = await client.DelegateAsync(identity, new DelegateCredentialRequest { Offer = value }, timeout, ct);
            if (r.GetValue(common.Json))
            {
                Console.WriteLine(JsonFormatter.Default.Format(response));
                return ExitCodes.Ok;
            }

            Table.Print(("lease", response.LeaseId), ("parent", response.ParentLeaseId), ("subject", response.Subject),
                ("actors", string.Join(" <- ", response.Actors)), ("tools", string.Join(", ", response.Scope.Tools)),
                ("resources", string.Join(", ", response.Scope.Resources)), ("expires", response.ExpiresAt.ToDateTimeOffset().ToString("O")),
                ("credential", response.Credential.Token));
            return ExitCodes.Ok;
        }));
        return command;
    }
}
