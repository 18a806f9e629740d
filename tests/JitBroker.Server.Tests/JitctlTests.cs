using System.Diagnostics;
using System.Text.Json;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>jitctl as operators and scripts run it: a separate process, exit codes, JSON output.</summary>
[NonParallelizable]
public sealed class JitctlTests
{
    private BrokerServerFixture _broker = null!;

    [OneTimeSetUp]
    public async Task Start() => _broker = await BrokerServerFixture.StartAsync();

    [OneTimeTearDown]
    public async Task Stop() => await _broker.DisposeAsync();

    private async Task<(int Code, string Out, string Err)> Jitctl(string? identity, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(TestContext.CurrentContext.TestDirectory, "jitctl.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["JITCTL_BROKER"] = _broker.GrpcUri.ToString();
        start.Environment["JITCTL_ADMIN_ENDPOINT"] = _broker.AdminUri.ToString();
        start.Environment["JITBROKER__DATADIRECTORY"] = _broker.DataDirectory;
        start.Environment.Remove("JITCTL_IDENTITY");
        if (identity is not null)
        {
            start.Environment["JITCTL_IDENTITY"] = identity;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Test]
    public async Task Dev_svid_request_verify_introspect_end_task()
    {
        var svid = await Jitctl(null, "dev-svid", "--spiffe-id", BrokerServerFixture.SupportBot);
        Assert.That(svid.Code, Is.Zero, svid.Err);
        Assert.That(svid.Err, Does.Contain("DEV ONLY"));
        var identity = svid.Out.Trim();

        var request = await Jitctl(identity, "request", "--task", "cli-1", "--action", "tickets.read", "--audience",
            BrokerServerFixture.TicketsAudience, "--tool", "zendesk", "--resource", "tickets/3", "--ttl", "60", "--json");
        Assert.That(request.Code, Is.Zero, request.Err);
        using var json = JsonDocument.Parse(request.Out);
        var token = json.RootElement.GetProperty("credential").GetProperty("token").GetString()!;

        var jwks = new Uri(_broker.HttpUri, "/.well-known/jwks.json").ToString();
        var verify = await Jitctl(null, "verify", "--jwks", jwks, "--audience", BrokerServerFixture.TicketsAudience, "--credential", token);
        Assert.That(verify.Code, Is.Zero, verify.Out + verify.Err);
        var tampered = await Jitctl(null, "verify", "--jwks", jwks, "--audience", BrokerServerFixture.TicketsAudience, "--credential", token[..^4] + "AAAA");
        Assert.That(tampered.Code, Is.EqualTo(1), "a tampered signature does not verify");
        var wrongAudience = await Jitctl(null, "verify", "--jwks", jwks, "--audience", "https://other", "--credential", token);
        Assert.That(wrongAudience.Code, Is.EqualTo(1));

        Assert.That((await Jitctl(identity, "introspect", "--credential", token)).Code, Is.Zero, "active → exit 0");
        var end = await Jitctl(identity, "end-task", "--task", "cli-1");
        Assert.That(end.Code, Is.Zero, end.Err);
        Assert.That(end.Out, Does.Contain("Revoked"));
        var after = await Jitctl(identity, "introspect", "--credential", token);
        Assert.That(after.Code, Is.EqualTo(1), "inactive → exit 1");
        Assert.That(after.Out.Trim(), Is.EqualTo("inactive"));
    }

    [Test]
    public async Task Exit_codes_name_the_failure()
    {
        var identity = _broker.Svid();
        var denied = await Jitctl(identity, "request", "--task", "cli-2", "--action", "tickets.delete", "--audience", BrokerServerFixture.TicketsAudience);
        Assert.That(denied.Code, Is.EqualTo(4));
        Assert.That(denied.Err, Does.Contain("PERMISSION_DENIED").And.Contain("human"));

        var noIdentity = await Jitctl(null, "end-task", "--task", "cli-2");
        Assert.That(noIdentity.Code, Is.EqualTo(2));

        var badIdentity = await Jitctl("garbage", "end-task", "--task", "cli-2");
        Assert.That(badIdentity.Code, Is.EqualTo(3));
        Assert.That(badIdentity.Err, Does.Contain("UNAUTHENTICATED"));

        var unknownTask = await Jitctl(identity, "end-task", "--task", "never-started");
        Assert.That(unknownTask.Code, Is.EqualTo(5));

        var usage = await Jitctl(identity, "request", "--task", "x");
        Assert.That(usage.Code, Is.EqualTo(2), "missing required options");
    }
}
