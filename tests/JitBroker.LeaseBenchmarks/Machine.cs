using System.Globalization;

namespace JitBroker.LeaseBenchmarks;

/// <summary>The machine line of a benchmark report: CPU model, cores, RAM, runtime, redis-server version.</summary>
internal static class Machine
{
    public static string Describe()
    {
        var model = Read("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        var memKb = Read("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal))?
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        var ram = memKb is null ? "? GiB" : $"{long.Parse(memKb, CultureInfo.InvariantCulture) / 1024.0 / 1024.0:0.#} GiB";
        return $"{model}, {Environment.ProcessorCount} cores, {ram} RAM, .NET {Environment.Version}";
    }

    private static string[] Read(string path) => File.Exists(path) ? File.ReadAllLines(path) : [];
}
