namespace JitBroker.Cli;

/// <summary>
/// How every token-valued option (<c>--identity</c>, <c>--credential</c>, <c>--offer</c>) is read: <c>-</c> reads
/// standard input, <c>@PATH</c> reads a file, anything else is the token itself. A token typed on the command line is
/// readable by every local user through <c>ps</c> and <c>/proc/&lt;pid&gt;/cmdline</c>, so that form earns a warning.
/// </summary>
internal static class TokenInput
{
    private static int _stdinTaken;

    public static async Task<string> ReadAsync(string value, string option, CancellationToken cancellationToken = default)
    {
        string token;
        if (value == "-")
        {
            // Standard input holds one token: two options cannot both claim it.
            if (Interlocked.Exchange(ref _stdinTaken, 1) == 1)
            {
                throw new UsageException($"{option} -: standard input is already read by another option.");
            }

            token = await Console.In.ReadToEndAsync(cancellationToken);
        }
        else if (value.StartsWith('@'))
        {
            var path = value[1..];
            token = File.Exists(path)
                ? await File.ReadAllTextAsync(path, cancellationToken)
                : throw new UsageException($"{option} @{path}: no such file.");
        }
        else
        {
            await Console.Error.WriteLineAsync(
                $"warning: {option} on the command line is visible to other local users (ps, /proc); pass '-' (stdin) or @FILE instead.");
            token = value;
        }

        token = token.Trim();
        return token.Length > 0 ? token : throw new UsageException($"{option}: the token is empty.");
    }
}
