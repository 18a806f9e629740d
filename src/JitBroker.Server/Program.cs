using JitBroker.Server;

// `JitBroker.Server check` validates the configuration exactly as start-up does, then exits.
var check = args.Length > 0 && args[0] == "check";
try
{
    if (check)
    {
        var app = BrokerHost.Build(args[1..]);
        await app.DisposeAsync();
        Console.WriteLine("configuration OK");
        return 0;
    }

    await BrokerHost.Build(args).RunAsync();
    return 0;
}
catch (InvalidBrokerConfigurationException ex)
{
    await Console.Error.WriteLineAsync(ex.Message);
    return 2;
}
