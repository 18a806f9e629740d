using System.Reflection;
using NUnit.Framework;

namespace JitBroker.Server.Tests.Catalogues;

/// <summary>
/// Compares what reflection finds with a checked-in snapshot beside this file. A difference fails with both
/// texts and the path of the text found, so a deliberate change is one copy and one reviewed diff.
/// </summary>
internal static class CatalogueSnapshot
{
    /// <summary>Every src project's assembly; a project added under src/ without an entry here fails a test.</summary>
    public static readonly string[] SourceProjects =
    [
        "JitBroker.Attestation", "JitBroker.Audit", "JitBroker.Cli", "JitBroker.Console", "JitBroker.Core", "JitBroker.Issuance",
        "JitBroker.Leases", "JitBroker.OAuth", "JitBroker.Policy", "JitBroker.Protocol", "JitBroker.Redis", "JitBroker.Revocation",
        "JitBroker.Server", "JitBroker.ToolGuard", "JitBroker.Vault",
    ];

    public static IEnumerable<Assembly> SourceAssemblies() => SourceProjects.Select(name => Assembly.Load(new AssemblyName(AssemblyOf(name))));

    /// <summary>The assembly a src project builds; the CLI is named after its command.</summary>
    public static string AssemblyOf(string project) => project == "JitBroker.Cli" ? "jitctl" : project;

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "JitBroker.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("JitBroker.sln not found above " + TestContext.CurrentContext.TestDirectory);
    }

    public static void AssertMatches(string snapshotName, IEnumerable<string> actualLines)
    {
        var expectedPath = Path.Combine(RepositoryRoot(), "tests", "JitBroker.Server.Tests", "Catalogues", snapshotName);
        var actual = string.Join('\n', actualLines) + "\n";
        var expected = File.Exists(expectedPath) ? File.ReadAllText(expectedPath).ReplaceLineEndings("\n") : "";
        if (actual == expected)
        {
            return;
        }

        var receivedPath = Path.Combine(TestContext.CurrentContext.WorkDirectory, snapshotName + ".received");
        File.WriteAllText(receivedPath, actual);
        Assert.Fail($"{snapshotName} changed. If the change is deliberate, copy {receivedPath} over {expectedPath} " +
            $"and update docs/catalogues.md.\n--- expected\n{expected}--- found\n{actual}");
    }
}
