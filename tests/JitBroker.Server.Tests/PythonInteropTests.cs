using System.Diagnostics;
using System.Text.Json;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Interop proof: Debian's python3-grpcio (gRPC C-core, an implementation independent of ours) drives
/// the running broker. scripts/test.sh installs python3-grpcio and protoc; without them this test fails
/// rather than skips, because the interop claim would otherwise go unproven.
/// </summary>
[NonParallelizable]
public sealed class PythonInteropTests
{
    private static JsonElement _results;

    [OneTimeSetUp]
    public static async Task RunInteropClient()
    {
        await using var broker = await BrokerServerFixture.StartAsync();
        var python = Environment.GetEnvironmentVariable("JITBROKER_TEST_PYTHON") ?? "/usr/bin/python3";
        var stubs = Directory.CreateTempSubdirectory("jitbroker-pystubs-").FullName;
        try
        {
            var protos = Path.Combine(TestContext.CurrentContext.TestDirectory, "protos");
            // The health proto's path would make a python package "grpc" that shadows grpcio itself, so it is
            // compiled from a copy under another directory name (the wire names come from its package line).
            var healthRoot = Path.Combine(stubs, "src");
            Directory.CreateDirectory(Path.Combine(healthRoot, "jb_health"));
            File.Copy(Path.Combine(protos, "grpc/health/v1/health.proto"), Path.Combine(healthRoot, "jb_health", "health.proto"));
            await Run("protoc", ["-I", protos, "--python_out", stubs, Path.Combine(protos, "jitbroker/v1/broker.proto")]);
            await Run("protoc", ["-I", healthRoot, "--python_out", stubs, Path.Combine(healthRoot, "jb_health", "health.proto")]);
            var script = Path.Combine(TestContext.CurrentContext.TestDirectory, "interop", "grpc_interop.py");
            var json = await Run(python, [script, stubs, $"{broker.GrpcUri.Host}:{broker.GrpcUri.Port}",
                string.Join(',', broker.Svid(), broker.Svid(), broker.Svid())]);
            _results = JsonDocument.Parse(json).RootElement.Clone();
        }
        finally
        {
            Directory.Delete(stubs, recursive: true);
        }
    }

    private static JsonElement R(string scenario) => _results.GetProperty(scenario);

    [Test]
    public void Round_trip_issue_introspect_end_task()
    {
        var r = R("roundtrip");
        Assert.Multiple(() =>
        {
            Assert.That(r.GetProperty("lease_id").GetString(), Does.StartWith("lease_"));
            Assert.That(r.GetProperty("token_segments").GetInt32(), Is.EqualTo(3));
            Assert.That(r.GetProperty("tools")[0].GetString(), Is.EqualTo("zendesk"));
            Assert.That(r.GetProperty("active_before").GetBoolean(), Is.True);
            Assert.That(r.GetProperty("task_before").GetString(), Is.EqualTo("py-task-1"));
            Assert.That(r.GetProperty("end_outcomes")[0].GetString(), Is.EqualTo("REVOKED"));
            Assert.That(r.GetProperty("end_lease_ids")[0].GetString(), Is.EqualTo(r.GetProperty("lease_id").GetString()));
            Assert.That(r.GetProperty("active_after").GetBoolean(), Is.False);
        });
    }

    [Test]
    public void Denial_arrives_as_permission_denied_with_decoded_message_and_reason_trailer()
    {
        var r = R("denied");
        Assert.That(r.GetProperty("code").GetString(), Is.EqualTo("PERMISSION_DENIED"));
        Assert.That(r.GetProperty("details").GetString(), Does.Contain("Deleting data needs a human operator."));
        Assert.That(r.GetProperty("reason").GetString(), Is.EqualTo("policy.denied"));
    }

    [Test]
    public void Missing_identity_is_unauthenticated()
    {
        Assert.That(R("unauthenticated").GetProperty("code").GetString(), Is.EqualTo("UNAUTHENTICATED"));
        Assert.That(R("unauthenticated").GetProperty("reason").GetString(), Is.EqualTo("identity.missing"));
    }

    [TestCase("unknown_method")]
    [TestCase("unknown_service")]
    public void Unknown_methods_are_unimplemented(string scenario) =>
        Assert.That(R(scenario).GetProperty("code").GetString(), Is.EqualTo("UNIMPLEMENTED"));

    [Test]
    public void Oversized_message_is_resource_exhausted() =>
        Assert.That(R("oversized").GetProperty("code").GetString(), Is.EqualTo("RESOURCE_EXHAUSTED"));

    [Test]
    public void Expired_deadline_is_deadline_exceeded() =>
        Assert.That(R("deadline").GetProperty("code").GetString(), Is.EqualTo("DEADLINE_EXCEEDED"));

    [Test]
    public void Server_stays_healthy() => Assert.That(R("health").GetString(), Is.EqualTo("SERVING"));

    private static async Task<string> Run(string file, string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        Assert.That(process.ExitCode, Is.Zero, $"{file} failed: {await stderr}");
        return await stdout;
    }
}
