using System.Text.Json;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>Issue 17 item 11: jitctl takes tokens from stdin ('-') or a file ('@FILE'), keeping them out of /proc/&lt;pid&gt;/cmdline.</summary>
[NonParallelizable]
public sealed class JitctlTokenInputTests
{
    private BrokerServerFixture _broker = null!;
    private string _dir = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _broker = await BrokerServerFixture.StartAsync();
        _dir = Directory.CreateTempSubdirectory("jitctl-tokens-").FullName;
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _broker.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task Identity_from_stdin_and_credential_from_a_file_work_without_a_warning()
    {
        var request = await Jitctl.RunWithInputAsync(_broker.GrpcUri, identity: null, stdin: _broker.Svid(), identityCommand: null,
            "request", "--identity", "-", "--task", "stdin-1", "--action", "tickets.read", "--audience", BrokerServerFixture.TicketsAudience,
            "--tool", "zendesk", "--resource", "tickets/3", "--ttl", "60", "--json");
        Assert.That(request.Code, Is.Zero, request.ToString());
        using var json = JsonDocument.Parse(request.Out);
        var credentialFile = Path.Combine(_dir, "credential");
        await File.WriteAllTextAsync(credentialFile, json.RootElement.GetProperty("credential").GetProperty("token").GetString() + "\n");
        var identityFile = Path.Combine(_dir, "identity");
        await File.WriteAllTextAsync(identityFile, _broker.Svid());

        var jwks = new Uri(_broker.HttpUri, "/.well-known/jwks.json").ToString();
        var verify = await Jitctl.RunAsync(_broker.GrpcUri, null, "verify", "--jwks", jwks, "--audience", BrokerServerFixture.TicketsAudience, "--credential", "@" + credentialFile);
        var introspect = await Jitctl.RunAsync(_broker.GrpcUri, null, "introspect", "--identity-file", identityFile, "--credential", "@" + credentialFile);

        Assert.That(verify.Code, Is.Zero, verify.ToString());
        Assert.That(introspect.Code, Is.Zero, "active → exit 0\n" + introspect);
        Assert.That(request.Err + verify.Err + introspect.Err, Does.Not.Contain("warning"));
    }

    [Test]
    public async Task A_token_typed_on_the_command_line_draws_a_warning_and_a_missing_file_is_a_usage_error()
    {
        var jwks = new Uri(_broker.HttpUri, "/.well-known/jwks.json").ToString();

        var literal = await Jitctl.RunAsync(_broker.GrpcUri, null, "verify", "--jwks", jwks, "--audience", BrokerServerFixture.TicketsAudience, "--credential", "a.b.c");
        var missing = await Jitctl.RunAsync(_broker.GrpcUri, null, "verify", "--jwks", jwks, "--audience", BrokerServerFixture.TicketsAudience,
            "--credential", "@" + Path.Combine(_dir, "nope"));

        Assert.That(literal.Err, Does.Contain("visible to other local users"), literal.ToString());
        Assert.That(missing.Code, Is.EqualTo(2), missing.ToString());
    }
}
