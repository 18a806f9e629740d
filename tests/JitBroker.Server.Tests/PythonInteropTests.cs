using System.Diagnostics;
using System.Text.Json;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Interop proof: an independent gRPC implementation drives the running broker and reports what it saw; the
/// same assertions hold for every peer. scripts/test.sh installs the peers (python3-grpcio + protoc from
/// Debian; @grpc/grpc-js + @grpc/proto-loader from npm into tests/interop-node); without them these tests fail
/// rather than skip, because the interop claim would otherwise go unproven.
/// </summary>
public abstract class InteropTests
{
    private JsonElement _results;

    protected abstract Task<string> RunPeerAsync(BrokerServerFixture broker, string protos, string[] identities);

    [OneTimeSetUp]
    public async Task RunPeer()
    {
        await using var broker = await BrokerServerFixture.StartAsync();
        var protos = Path.Combine(TestContext.CurrentContext.TestDirectory, "protos");
        var json = await RunPeerAsync(broker, protos, [broker.Svid(), broker.Svid(), broker.Svid()]);
        _results = JsonDocument.Parse(json).RootElement.Clone();
    }

    protected JsonElement R(string scenario) => _results.GetProperty(scenario);

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
            Assert.That(r.GetProperty("task_before").GetString(), Does.EndWith("-task-1"));
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
    public void Health_check_and_watch_say_serving()
    {
        Assert.That(R("health").GetString(), Is.EqualTo("SERVING"));
        Assert.That(R("watch").GetString(), Is.EqualTo("SERVING"));
    }

    [Test]
    public void Reflection_lists_the_services() =>
        Assert.That(R("reflection").EnumerateArray().Select(e => e.GetString()), Is.SupersetOf(new[]
        {
            "jitbroker.v1.CredentialBroker", "jitbroker.v1.BrokerAdmin", "grpc.health.v1.Health",
        }));

    protected static async Task<string> Run(string file, string[] args, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (workingDirectory is not null)
        {
            start.WorkingDirectory = workingDirectory;
        }

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

/// <summary>Debian's python3-grpcio (gRPC C-core).</summary>
[NonParallelizable]
public sealed class PythonInteropTests : InteropTests
{
    protected override async Task<string> RunPeerAsync(BrokerServerFixture broker, string protos, string[] identities)
    {
        var python = Environment.GetEnvironmentVariable("JITBROKER_TEST_PYTHON") ?? "/usr/bin/python3";
        var stubs = Directory.CreateTempSubdirectory("jitbroker-pystubs-").FullName;
        try
        {
            // The health and reflection protos' paths would make a python package "grpc" that shadows grpcio itself,
            // so they are compiled from copies under other directory names (the wire names come from the call paths).
            var src = Path.Combine(stubs, "src");
            Directory.CreateDirectory(Path.Combine(src, "jb_health"));
            Directory.CreateDirectory(Path.Combine(src, "jb_reflection"));
            File.Copy(Path.Combine(protos, "grpc/health/v1/health.proto"), Path.Combine(src, "jb_health", "health.proto"));
            var interop = Path.Combine(TestContext.CurrentContext.TestDirectory, "interop");
            File.Copy(Path.Combine(interop, "jb_reflection", "reflection.proto"), Path.Combine(src, "jb_reflection", "reflection.proto"));
            await Run("protoc", ["-I", protos, "--python_out", stubs, Path.Combine(protos, "jitbroker/v1/broker.proto")]);
            await Run("protoc", ["-I", src, "--python_out", stubs, Path.Combine(src, "jb_health", "health.proto"), Path.Combine(src, "jb_reflection", "reflection.proto")]);
            return await Run(python, [Path.Combine(interop, "grpc_interop.py"), stubs, $"{broker.GrpcUri.Host}:{broker.GrpcUri.Port}", string.Join(',', identities)]);
        }
        finally
        {
            Directory.Delete(stubs, recursive: true);
        }
    }

    /// <summary>C-core sends both entries as two header fields (Node's http2 refuses to send a second authorization at all).</summary>
    [Test]
    public void Two_authorization_entries_are_refused_outright()
    {
        Assert.That(R("two_authorization").GetProperty("code").GetString(), Is.EqualTo("UNAUTHENTICATED"));
        Assert.That(R("two_authorization").GetProperty("reason").GetString(), Is.EqualTo("identity.duplicate_authorization"));
    }
}

/// <summary>npm's @grpc/grpc-js (pure JavaScript), installed by scripts/test.sh into tests/interop-node.</summary>
[NonParallelizable]
public sealed class NodeInteropTests : InteropTests
{
    protected override Task<string> RunPeerAsync(BrokerServerFixture broker, string protos, string[] identities)
    {
        var folder = Path.GetFullPath(Path.Combine(TestContext.CurrentContext.TestDirectory, "../../../../interop-node"));
        Assert.That(Path.Exists(Path.Combine(folder, "node_modules", "@grpc", "grpc-js")), Is.True,
            $"run `npm ci` in {folder} (scripts/test.sh does)");
        var reflection = Path.Combine(TestContext.CurrentContext.TestDirectory, "interop", "jb_reflection", "reflection.proto");
        return Run("node", [Path.Combine(folder, "interop.js"), protos, reflection, $"{broker.GrpcUri.Host}:{broker.GrpcUri.Port}", string.Join(',', identities)], folder);
    }

    [Test]
    public void An_admin_method_on_the_agent_port_is_unimplemented() =>
        Assert.That(R("admin_on_agent_port").GetProperty("code").GetString(), Is.EqualTo("UNIMPLEMENTED"));
}
