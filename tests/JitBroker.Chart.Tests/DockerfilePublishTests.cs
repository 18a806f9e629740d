using System.Text.RegularExpressions;
using JitBroker.Chart.Tests.Server;
using NUnit.Framework;

namespace JitBroker.Chart.Tests;

/// <summary>
/// The image's broker is published by scripts/publish-server.sh (issue 22: start-up to ready under 1 s with the build the
/// Dockerfile uses), self-contained and composite ReadyToRun, and started by its apphost; the server tests of this project
/// start the same script's output the same way, so what they start is what the image runs.
/// </summary>
public sealed partial class DockerfilePublishTests
{
    private static string Joined(string file) => Regex.Replace(File.ReadAllText(Path.Combine(RepoPaths.Root, file)), @"\\\r?\n", " ");

    [Test]
    public void The_build_stage_publishes_with_the_script_the_server_tests_use()
    {
        var dockerfile = Joined("Dockerfile");
        Assert.Multiple(() =>
        {
            Assert.That(dockerfile, Does.Match(@"\nCOPY scripts/publish-server\.sh scripts/\s*\n"), "the script is copied into the build stage");
            Assert.That(dockerfile, Does.Match(@"\nRUN [^\n]*scripts/publish-server\.sh /out\s*\n"), "the build stage publishes with it");
            Assert.That(dockerfile, Does.Not.Contain("dotnet publish"), "no second way of publishing");
            Assert.That(File.ReadAllLines(Path.Combine(RepoPaths.Root, ".dockerignore")), Does.Contain("!scripts/publish-server.sh"),
                "the build context holds the script");
        });
    }

    [Test]
    public void The_script_publishes_self_contained_composite_ReadyToRun_for_one_runtime()
    {
        var publish = PublishCommand().Match(Joined("scripts/publish-server.sh"));
        Assert.That(publish.Success, "the script runs dotnet publish for the server");
        var command = string.Join(' ', publish.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Multiple(() =>
        {
            Assert.That(command, Does.Contain("src/JitBroker.Server/JitBroker.Server.csproj\" -c Release"));
            Assert.That(command, Does.Contain("--self-contained true"));
            Assert.That(command, Does.Contain("-p:PublishReadyToRun=true"));
            Assert.That(command, Does.Contain("-p:PublishReadyToRunComposite=true"));
            Assert.That(command, Does.Match(@" -r \S+ "), "ReadyToRun needs a runtime identifier");
            Assert.That(command, Does.Not.Contain("UseAppHost=false"), "the image starts the apphost");
        });
    }

    [Test]
    public void The_runtime_stage_starts_the_apphost_on_a_base_without_dotnet()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Joined("Dockerfile"), Does.Match(@"\nARG RUNTIME_IMAGE=mcr\.microsoft\.com/dotnet/runtime-deps:10\.0\s*\n"));
            Assert.That(DockerfileImage.Instruction("FROM"), Is.EqualTo("${RUNTIME_IMAGE} AS runtime"));
            Assert.That(DockerfileImage.Instruction("COPY"), Is.EqualTo("--from=build --chown=root:root /out/ /app/"));
            Assert.That(DockerfileImage.Instruction("ENTRYPOINT"), Is.EqualTo($"[\"/app/{PublishedServer.Executable}\"]"));
        });
    }

    [GeneratedRegex(@"dotnet publish [^\n&]*")]
    private static partial Regex PublishCommand();
}
