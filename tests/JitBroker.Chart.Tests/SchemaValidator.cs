using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using NUnit.Framework;

namespace JitBroker.Chart.Tests;

/// <summary>
/// Validates values against values.schema.json with an independent implementation: Debian's python3-jsonschema
/// (Draft7Validator, as the schema declares). JsonSchema.Net, the .NET choice, cannot be restored from our
/// package registry (its dependency JsonPointer.Net is not held).
/// </summary>
internal static class SchemaValidator
{
    private const string Script = """
        import json, sys
        from jsonschema import Draft7Validator
        schema = json.load(open(sys.argv[1]))
        Draft7Validator.check_schema(schema)
        instance = json.load(sys.stdin)
        errors = ["/".join(str(p) for p in e.absolute_path) + ": " + e.message
                  for e in Draft7Validator(schema).iter_errors(instance)]
        json.dump(errors, sys.stdout)
        """;

    /// <summary>Every schema violation of <paramref name="values"/> as "path: message"; empty when valid.</summary>
    public static IReadOnlyList<string> Validate(JsonNode values)
    {
        var python = Environment.GetEnvironmentVariable("JITBROKER_TEST_PYTHON") ?? "/usr/bin/python3";
        var info = new ProcessStartInfo(python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(Script);
        info.ArgumentList.Add(RepoPaths.Schema);
        using var process = Process.Start(info)!;
        process.StandardInput.Write(values.ToJsonString());
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(30_000))
        {
            process.Kill();
            Assert.Fail("python3 jsonschema did not finish within 30 s");
        }

        if (process.ExitCode != 0)
        {
            var error = stderr.Result;
            Assert.Fail(error.Contains("No module named 'jsonschema'", StringComparison.Ordinal)
                ? "python3-jsonschema is not installed (apt-get install -y python3-jsonschema); the schema tests need it."
                : $"python3 jsonschema failed ({process.ExitCode}): {error}");
        }

        return JsonSerializer.Deserialize<List<string>>(stdout.Result)!;
    }
}
