namespace JitBroker.Chart.Tests;

/// <summary>Where the repository, the chart and the test's own values files are.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Chart => Path.Combine(Root, "charts", "jitbroker");

    public static string Template(string name) => Path.Combine(Chart, "templates", name);

    public static string ValuesYaml => Path.Combine(Chart, "values.yaml");

    public static string Schema => Path.Combine(Chart, "values.schema.json");

    public static string Example(string name) => Path.Combine(Chart, "examples", name);

    /// <summary>Values files of this test project (bad-values/, good-values/), copied next to the test assembly.</summary>
    public static string TestData(string folder) => Path.Combine(AppContext.BaseDirectory, folder);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "JitBroker.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("JitBroker.sln not found above " + AppContext.BaseDirectory);
    }
}
