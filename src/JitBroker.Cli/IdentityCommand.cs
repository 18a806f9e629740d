using System.Diagnostics;

namespace JitBroker.Cli;

/// <summary>
/// <c>--identity-command</c>: a shell command that prints a fresh identity token on stdout (for example
/// <c>spire-agent api fetch jwt …</c> piped through <c>jq</c>, or an OIDC helper). jitctl runs it before every admin
/// call, because the broker accepts each admin token exactly once (docs/deployment.md, "Admin API"). Its stderr
/// passes through; its output is never printed.
/// </summary>
internal static class IdentityCommand
{
    public static async Task<string> RunAsync(string command, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var start = OperatingSystem.IsWindows() ? new ProcessStartInfo("cmd.exe") { ArgumentList = { "/c", command } }
            : new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", command } };
        start.RedirectStandardOutput = true;
        start.UseShellExecute = false;
        using var process = Process.Start(start) ?? throw new UsageException("--identity-command could not be started.");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            var output = await process.StandardOutput.ReadToEndAsync(deadline.Token);
            await process.WaitForExitAsync(deadline.Token);
            var token = output.Trim();
            return process.ExitCode != 0 ? throw new UsageException($"--identity-command exited with {process.ExitCode}.")
                : token.Length == 0 || token.Any(char.IsWhiteSpace) ? throw new UsageException("--identity-command must print exactly one token.")
                : token;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new UsageException($"--identity-command did not finish within {timeout.TotalSeconds:0}s.");
        }
    }
}
