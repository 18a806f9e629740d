using System.Diagnostics;
using System.Text.RegularExpressions;
using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Audit.Tests;

/// <summary>
/// The Python verifier printed in docs/audit.md — extracted from the document itself, so the published
/// snippet is the tested one — must reach the same verdict as <see cref="AuditVerifier"/>: intact or not,
/// and for a tampered log the same kind, line and seq.
/// </summary>
[NonParallelizable]
public sealed partial class PythonVerifierTests
{
    private static readonly string Python = Environment.GetEnvironmentVariable("JITBROKER_TEST_PYTHON") ?? "/usr/bin/python3";
    private AuditFixture _f = null!;
    private string _script = null!;
    private string _jwksPath = null!;
    private List<string> _lines = null!;

    [SetUp]
    public async Task SetUp()
    {
        if (!File.Exists(Python))
        {
            Assert.Ignore($"{Python} not found (scripts/test.sh provides Debian's python3).");
        }

        _f = new AuditFixture();
        _script = Path.Combine(_f.Dir, "verify_audit.py");
        await File.WriteAllTextAsync(_script, ExtractScript());
        _jwksPath = Path.Combine(_f.Dir, "jwks.json");
        await File.WriteAllTextAsync(_jwksPath, _f.Jwks);
        _lines = [.. await _f.WriteLogAsync(10, checkpointEvery: 4)];
    }

    [TearDown]
    public void TearDown() => _f?.Dispose();

    [TestCase("intact")]
    [TestCase("edit")]
    [TestCase("delete")]
    [TestCase("delete-first")]
    [TestCase("insert")]
    [TestCase("reorder")]
    [TestCase("torn")]
    [TestCase("garbage")]
    [TestCase("float-seq")]
    [TestCase("rewrite-without-key")]
    public async Task Python_and_csharp_agree(string tampering)
    {
        Tamper(tampering);
        var csharp = await _f.VerifyAsync();
        var (code, output) = await RunPythonAsync(_script, _f.LogPath, _jwksPath);
        var signaturesChecked = !output.Contains("NOT verified", StringComparison.Ordinal);

        if (tampering == "rewrite-without-key" && !signaturesChecked)
        {
            // Without the cryptography package Python checks the chain only, which the forger recomputed.
            Assert.That((code, csharp.FirstFailure?.Kind), Is.EqualTo((0, (AuditFailureKind?)AuditFailureKind.BadCheckpoint)), output);
            return;
        }

        if (csharp.Ok)
        {
            Assert.That(code, Is.Zero, output);
            var ok = OkLine().Match(output);
            Assert.That(ok.Success, Is.True, output);
            Assert.That(long.Parse(ok.Groups["events"].Value, System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(csharp.EventsChecked));
            Assert.That(ok.Groups["hash"].Value, Is.EqualTo(csharp.LastHash));
            if (signaturesChecked)
            {
                Assert.That(ok.Groups["verified"].Value, Is.EqualTo(csharp.CheckpointsVerified.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }

            return;
        }

        Assert.That(code, Is.EqualTo(1), output);
        var bad = BadLine().Match(output);
        Assert.That(bad.Success, Is.True, output);
        var failure = csharp.FirstFailure!;
        Assert.That((bad.Groups["kind"].Value, bad.Groups["line"].Value, bad.Groups["seq"].Value),
            Is.EqualTo((Snake(failure.Kind), failure.LineNumber.ToString(System.Globalization.CultureInfo.InvariantCulture), failure.Seq?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "None")),
            $"C#: {failure}\nPython: {output}");
    }

    [Test]
    public async Task Both_hash_unicode_escapes_and_control_characters_identically()
    {
        await using (var log = _f.Log(_f.Options()))
        {
            await log.AppendAsync(new AuditEvent
            {
                Type = AuditEventTypes.AgentBlocked,
                AgentId = "spiffe://example.org/agent/ünï",
                Actor = "ops@example.org",
                Detail = "quote \" backslash \\ tab \t nl \n ctl \u0001 del \u007f <html>&amp; 'x' é 𝄞 🎫 \u2028 \ufeff",
                Intent = new TaskIntent("a", "b", [], [], new Dictionary<string, string> { ["ключ"] = "значение", ["\uff01"] = "x", ["😀"] = "y" }),
            });
        }

        var csharp = await _f.VerifyAsync();
        var (code, output) = await RunPythonAsync(_script, _f.LogPath, _jwksPath);
        Assert.That((csharp.Ok, code), Is.EqualTo((true, 0)), output);
        Assert.That(output, Does.Contain(csharp.LastHash));
    }

    private void Tamper(string tampering)
    {
        switch (tampering)
        {
            case "edit":
                _lines[6] = _lines[6].Replace("\"decision\":\"allow\"", "\"decision\":\"deny\"", StringComparison.Ordinal);
                break;
            case "delete":
                _lines.RemoveAt(5);
                break;
            case "delete-first":
                _lines.RemoveAt(0);
                break;
            case "insert":
                _lines.Insert(6, Forgery.After(_lines[5]).Line);
                break;
            case "reorder":
                (_lines[2], _lines[3]) = (_lines[3], _lines[2]);
                break;
            case "garbage":
                _lines[4] = "[1,2,3]";
                break;
            case "float-seq":
                _lines[1] = _lines[1].Replace("{\"seq\":2,", "{\"seq\":2.0,", StringComparison.Ordinal);
                break;
            case "rewrite-without-key":
                var records = _lines.Select(l => AuditRecord.Parse(l).ToJson()).ToList();
                records[1]["detail"] = "forged";
                _lines = Forgery.Rechain(records);
                break;
        }

        _f.WriteLines(_lines);
        if (tampering == "torn")
        {
            File.AppendAllText(_f.LogPath, _lines[0][..30]);
        }
    }

    private static async Task<(int Code, string Output)> RunPythonAsync(params string[] args)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    private static string ExtractScript()
    {
        var doc = File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "docs", "audit.md"));
        var marker = doc.IndexOf("<!-- verify_audit.py", StringComparison.Ordinal);
        Assert.That(marker, Is.GreaterThan(0), "docs/audit.md has lost the verifier block");
        var start = doc.IndexOf("```python\n", marker, StringComparison.Ordinal) + "```python\n".Length;
        var end = doc.IndexOf("\n```\n", start, StringComparison.Ordinal);
        return doc[start..(end + 1)];
    }

    private static string Snake(AuditFailureKind kind) => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(kind.ToString());

    [GeneratedRegex(@"^OK (?<events>\d+) events, \d+ checkpoints \((?<verified>\d+) signatures verified\), last seq \d+ hash (?<hash>[0-9a-f]{64})", RegexOptions.Multiline)]
    private static partial Regex OkLine();

    [GeneratedRegex(@"^TAMPERED line (?<line>\d+) seq (?<seq>\S+) (?<kind>[a-z_]+): ", RegexOptions.Multiline)]
    private static partial Regex BadLine();
}
