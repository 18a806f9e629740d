using System.Text.RegularExpressions;

namespace JitBroker.Chart.Tests;

/// <summary>The runtime stage (after the last FROM) of the repository's Dockerfile: what the pod's container starts from.</summary>
internal static partial class DockerfileImage
{
    public static IReadOnlyList<string> RuntimeStage { get; } = Load();

    /// <summary>ENV of the runtime stage, name → value (the base image's own ENV is not visible here).</summary>
    public static IReadOnlyDictionary<string, string> Environment =>
        RuntimeStage.Where(l => l.StartsWith("ENV ", StringComparison.Ordinal))
            .SelectMany(l => Pair().Matches(l[4..]))
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value.Trim('"'));

    public static string? Instruction(string name) =>
        RuntimeStage.LastOrDefault(l => l.StartsWith(name + " ", StringComparison.Ordinal))?[(name.Length + 1)..].Trim();

    private static List<string> Load()
    {
        // Join continuation lines, drop comments, keep the instructions after the last FROM.
        var joined = Regex.Replace(File.ReadAllText(Path.Combine(RepoPaths.Root, "Dockerfile")), @"\\\r?\n", " ");
        var lines = joined.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        return lines.Skip(lines.FindLastIndex(l => l.StartsWith("FROM ", StringComparison.Ordinal))).ToList();
    }

    [GeneratedRegex(@"([A-Za-z_][A-Za-z0-9_]*)=(""[^""]*""|\S*)")]
    private static partial Regex Pair();
}
