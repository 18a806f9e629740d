using System.Globalization;
using System.CommandLine;
using JitBroker.Protocol.V1;

namespace JitBroker.Cli;

/// <summary>--wait and --wait-timeout, shared by revoke and block.</summary>
internal sealed record WaitOptions(Option<bool> Wait, Option<TimeSpan> Timeout)
{
    public static WaitOptions Create() => new(
        new Option<bool>("--wait") { Description = "Follow the revocation until every lease is revoked (progress on stderr)." },
        new Option<TimeSpan>("--wait-timeout") { Description = "Stop following after this long (hh:mm:ss); the work goes on.", DefaultValueFactory = _ => TimeSpan.FromMinutes(5) });
}

/// <summary>Polls a revocation batch, drawing "revoked / total, failing" as a bar on a terminal.</summary>
internal static class RevocationWatch
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    public static async Task<RevocationProgress> UntilDoneAsync(AdminClient admin, string revocationId, TimeSpan timeout, CancellationToken ct)
    {
        var started = TimeProvider.System.GetTimestamp();
        var bar = !Console.IsErrorRedirected;
        while (true)
        {
            var progress = await admin.GetRevocationProgressAsync(revocationId, ct);
            if (bar)
            {
                Console.Error.Write("\r" + Draw(progress));
            }

            if (progress.Done || TimeProvider.System.GetElapsedTime(started) >= timeout)
            {
                if (bar)
                {
                    Console.Error.WriteLine();
                }

                return progress;
            }

            await Task.Delay(PollInterval, ct);
        }
    }

    internal static string Draw(RevocationProgress p)
    {
        const int Width = 30;
        var filled = p.Total == 0 ? Width : (int)(Width * Math.Min(p.Revoked, p.Total) / p.Total);
        var failing = p.Failing > 0 ? string.Create(CultureInfo.InvariantCulture, $", {p.Failing} failing") : "";
        return string.Create(CultureInfo.InvariantCulture, $"[{new string('#', filled)}{new string('.', Width - filled)}] {p.Revoked}/{p.Total} revoked{failing}");
    }
}
