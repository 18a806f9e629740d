using System.CommandLine;
using JitBroker.Cli;

var common = new CommonOptions();
var root = new RootCommand("jitctl — JitBroker command line")
{
    DevSvidCommand.Create(),
    BrokerCommands.Request(common),
    BrokerCommands.EndTask(common),
    BrokerCommands.Introspect(common),
    VerifyCommand.Create(),
    AuditCommands.Create(),
    PolicyCommands.Create(),
};
foreach (var command in DelegationCommands.Create(common).Concat(AdminCommands.Create(common)))
{
    root.Subcommands.Add(command);
}

// No response files: '@FILE' means "read this token from FILE" (TokenInput), never "splice FILE into the arguments".
var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
if (parsed.Errors.Count > 0)
{
    foreach (var error in parsed.Errors)
    {
        await Console.Error.WriteLineAsync("error: " + error.Message);
    }

    return ExitCodes.Usage;
}

return await parsed.InvokeAsync();
