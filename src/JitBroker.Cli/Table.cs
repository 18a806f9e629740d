using System.Text.RegularExpressions;
using Grpc.Core;

namespace JitBroker.Cli;

/// <summary>Readable, aligned output for humans; --json is the form for scripts.</summary>
internal static class Table
{
    public static void Print(params (string Key, string Value)[] rows)
    {
        var width = rows.Max(r => r.Key.Length);
        foreach (var (key, value) in rows)
        {
            Console.WriteLine($"{key.PadRight(width)}  {value}");
        }
    }

    public static void PrintRows(string[] header, IEnumerable<string[]> rows)
    {
        var all = new List<string[]> { header };
        all.AddRange(rows);
        var widths = header.Select((_, i) => all.Max(r => r[i].Length)).ToArray();
        foreach (var row in all)
        {
            Console.WriteLine(string.Join("  ", row.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
        }
    }
}

/// <summary>Canonical gRPC status names (UPPER_SNAKE), as every gRPC tool prints them.</summary>
internal static partial class StatusNames
{
    public static string Of(StatusCode code) => Snake().Replace(code.ToString(), "$1_$2").ToUpperInvariant();

    [GeneratedRegex("([a-z])([A-Z])")]
    private static partial Regex Snake();
}
