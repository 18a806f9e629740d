using System.CommandLine;
using System.Globalization;

namespace JitBroker.Cli;

/// <summary><c>jitctl receivers</c>: the Shared Signals streams, their pending SETs, delivery lag and last error (docs/ssf.md).</summary>
internal static class ReceiverCommands
{
    public static Command Create(CommonOptions common)
    {
        var command = new Command("receivers", "Shared Signals receivers: streams, pending SETs, lag of the oldest, last error.");
        common.AddTo(command);
        command.SetAction((r, ct) => AdminCommands.RunAdmin(common, r, async admin =>
        {
            var response = await admin.ListReceiversAsync(ct);
            if (!AdminCommands.Json(common, r, response))
            {
                if (!response.Enabled)
                {
                    Console.WriteLine("The Shared Signals transmitter is off (JitBroker:Ssf:Enabled).");
                    return ExitCodes.Ok;
                }

                Table.PrintRows(["STREAM", "RECEIVER", "STATUS", "PENDING", "LAG", "LAST DELIVERED", "LAST ERROR"], response.Streams.Select(s => new[]
                {
                    s.StreamId, s.Receiver, s.Status, s.Pending.ToString(CultureInfo.InvariantCulture),
                    s.Lag.ToTimeSpan().TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + "s",
                    s.LastDeliveredAt is { } d ? d.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture) : "never",
                    s.LastError.Length == 0 ? "" : s.LastError + (s.LastErrorAt is { } e ? " at " + e.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture) : ""),
                }));
            }

            return ExitCodes.Ok;
        }));
        return command;
    }
}
