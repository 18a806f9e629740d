namespace JitBroker.Server;

/// <summary>
/// The command line: no arguments (or configuration arguments) runs the broker; <c>check</c> validates the
/// configuration exactly as start-up does, writes nothing, and exits 0 when it is usable and 2 when it is not.
/// </summary>
public static class BrokerProgram
{
    public const int Ok = 0;
    public const int InvalidConfiguration = 2;

    public static async Task<int> RunAsync(string[] args, Action<ConfigurationManager>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        try
        {
            if (args.Length > 0 && args[0] == "check")
            {
                BrokerHost.Check(args[1..], configure);
                System.Console.WriteLine("configuration OK");
                return Ok;
            }

            await BrokerHost.Build(args, configure).RunAsync();
            return Ok;
        }
        catch (InvalidBrokerConfigurationException ex)
        {
            await System.Console.Error.WriteLineAsync(ex.Message);
            return InvalidConfiguration;
        }
    }
}
