using System.CommandLine;
using System.Reflection;
using System.Text.Json;
using NUnit.Framework;

namespace JitBroker.Audit.Tests;

/// <summary>
/// <c>jitctl audit verify|tail</c>, run in-process through the same parse-then-invoke steps as jitctl's
/// Program.cs (the command is internal to the CLI and wired into Program.cs by its owner).
/// </summary>
[NonParallelizable]
public sealed class CliTests
{
    private AuditFixture _f = null!;
    private string _jwksPath = null!;

    [SetUp]
    public async Task SetUp()
    {
        _f = new AuditFixture();
        _jwksPath = Path.Combine(_f.Dir, "jwks.json");
        await File.WriteAllTextAsync(_jwksPath, _f.Jwks);
        await _f.WriteLogAsync(10, checkpointEvery: 4);
    }

    [TearDown]
    public void TearDown() => _f.Dispose();

    [Test]
    public async Task Verify_an_intact_log_exits_0_and_reports_signatures()
    {
        var (code, output) = await Jitctl("audit", "verify", _f.LogPath, "--jwks", _jwksPath);
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Contain("INTACT").And.Contain("3 checkpoint(s) verified").And.Contain("through seq 12"));
    }

    [Test]
    public async Task Verify_without_jwks_says_signatures_were_not_checked()
    {
        var (code, output) = await Jitctl("audit", "verify", _f.LogPath);
        Assert.That(code, Is.Zero);
        Assert.That(output, Does.Contain("NOT CHECKED"));
    }

    [Test]
    public async Task Verify_a_tampered_log_exits_1_and_names_the_first_bad_line()
    {
        var lines = _f.ReadLines().ToList();
        lines.RemoveAt(5);
        _f.WriteLines(lines);

        var (code, output) = await Jitctl("audit", "verify", _f.LogPath, "--jwks", _jwksPath);
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain("TAMPERED").And.Contain("first bad line 6 (seq 7): seq_gap"));

        var (jsonCode, json) = await Jitctl("audit", "verify", _f.LogPath, "--json");
        Assert.That(jsonCode, Is.EqualTo(1));
        using var doc = JsonDocument.Parse(json);
        Assert.That(doc.RootElement.GetProperty("ok").GetBoolean(), Is.False);
        Assert.That(doc.RootElement.GetProperty("first_failure").GetProperty("kind").GetString(), Is.EqualTo("seq_gap"));
        Assert.That(doc.RootElement.GetProperty("first_failure").GetProperty("line_number").GetInt64(), Is.EqualTo(6));
    }

    [Test]
    public async Task Usage_errors_exit_2()
    {
        Assert.That((await Jitctl("audit", "verify", Path.Combine(_f.Dir, "missing.jsonl"))).Code, Is.EqualTo(2));
        Assert.That((await Jitctl("audit", "verify", _f.LogPath, "--jwks", Path.Combine(_f.Dir, "nope.json"))).Code, Is.EqualTo(2));
        Assert.That((await Jitctl("audit", "verify")).Code, Is.EqualTo(2));
        Assert.That((await Jitctl("audit", "tail", _f.LogPath, "-n", "0")).Code, Is.EqualTo(2));
    }

    [Test]
    public async Task Tail_prints_the_last_records_readably_or_verbatim()
    {
        var (code, output) = await Jitctl("audit", "tail", _f.LogPath, "-n", "3");
        Assert.That(code, Is.Zero);
        var rows = output.TrimEnd().Split('\n');
        Assert.That(rows, Has.Length.EqualTo(4), output);
        Assert.That(rows[0], Does.StartWith("SEQ").And.Contain("TYPE").And.Contain("LEASE"));
        Assert.That(rows[1], Does.StartWith("11 ").And.Contain("credential.issued").And.Contain(AuditFixture.Agent).And.Contain("decision=allow"));
        Assert.That(rows[3], Does.StartWith("13 ").And.Contain("audit.checkpoint").And.Contain("signs head seq 12"));

        var (jsonCode, json) = await Jitctl("audit", "tail", _f.LogPath, "-n", "2", "--json");
        Assert.That(jsonCode, Is.Zero);
        Assert.That(json.TrimEnd().Split('\n'), Is.EqualTo(_f.ReadLines()[^2..]));
    }

    private static async Task<(int Code, string Output)> Jitctl(params string[] args)
    {
        var type = typeof(JitBroker.Cli.ExitCodes).Assembly.GetType("JitBroker.Cli.AuditCommands", throwOnError: true)!;
        var audit = (Command)type.GetMethod("Create", BindingFlags.Public | BindingFlags.Static)!.Invoke(null, null)!;
        var root = new RootCommand("jitctl") { audit };
        var output = new StringWriter();
        var (stdout, stderr) = (Console.Out, Console.Error);
        Console.SetOut(output);
        Console.SetError(output);
        try
        {
            var parsed = root.Parse(args);
            if (parsed.Errors.Count > 0)
            {
                return (JitBroker.Cli.ExitCodes.Usage, string.Join("\n", parsed.Errors.Select(e => e.Message)));
            }

            return (await parsed.InvokeAsync(), output.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }
}
