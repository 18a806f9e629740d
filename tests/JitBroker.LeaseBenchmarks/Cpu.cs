using System.Globalization;
using JitBroker.Ha.Tests.Harness;

namespace JitBroker.LeaseBenchmarks;

/// <summary>CPU time (user + system) consumed so far by a process (/proc/PID/stat) or by redis-server (INFO cpu).</summary>
internal static class Cpu
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux

    public static TimeSpan OfProcess(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the whole line.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / TicksPerSecond);
    }

    public static async Task<TimeSpan> OfRedisAsync(LeaseLedger ledger)
    {
        var info = await ledger.InfoAsync("cpu");
        return TimeSpan.FromSeconds(double.Parse(info["used_cpu_user"], CultureInfo.InvariantCulture) + double.Parse(info["used_cpu_sys"], CultureInfo.InvariantCulture));
    }
}
