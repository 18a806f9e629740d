using JitBroker.Vault.Tests.Fakes;
using JitBroker.Vault.Tests.Infrastructure;
using NUnit.Framework;

namespace JitBroker.Vault.Tests;

/// <summary>The HTTP client on its own: headers, status classification, timeouts, resets, cancellation, health.</summary>
public sealed class VaultHttpClientTests : VaultTestBase
{
    [Test]
    public async Task Every_request_carries_X_Vault_Request_and_the_configured_namespace()
    {
        Vault.ExpectedNamespace = "team-a/agents/";
        var session = Session(Options(o => o.Namespace = "team-a/agents/"));

        await session.SendAsync(HttpMethod.Get, "auth/token/lookup-self", TimeSpan.Zero);

        Assert.That(Vault.Requests, Is.Not.Empty);
        Assert.That(Vault.Requests.Select(r => r.Header("X-Vault-Request")), Has.All.EqualTo("true"));
        Assert.That(Vault.Requests.Select(r => r.Header("X-Vault-Namespace")), Has.All.EqualTo("team-a/agents/"));
    }

    [Test]
    public void Without_the_namespace_Vault_refuses_the_broker()
    {
        Vault.ExpectedNamespace = "team-a/";

        var error = Assert.ThrowsAsync<VaultException>(async () => await Session().SendAsync(HttpMethod.Get, "auth/token/lookup-self", TimeSpan.Zero));

        Assert.That(error!.Kind, Is.EqualTo(VaultErrorKind.LoginFailed));
        Assert.That(Vault.Requests.Select(r => r.Header("X-Vault-Namespace")), Has.All.Null);
    }

    [TestCase(400, VaultErrorKind.InvalidRequest)]
    [TestCase(403, VaultErrorKind.PermissionDenied)]
    [TestCase(404, VaultErrorKind.NotFound)]
    [TestCase(405, VaultErrorKind.UnsupportedOperation)]
    [TestCase(412, VaultErrorKind.Unavailable)]
    [TestCase(429, VaultErrorKind.Unavailable)]
    [TestCase(472, VaultErrorKind.Unavailable)]
    [TestCase(473, VaultErrorKind.Unavailable)]
    [TestCase(500, VaultErrorKind.Unavailable)]
    [TestCase(501, VaultErrorKind.Unavailable)]
    [TestCase(502, VaultErrorKind.Unavailable)]
    [TestCase(503, VaultErrorKind.Unavailable)]
    [TestCase(418, VaultErrorKind.UnexpectedResponse)]
    public async Task Status_codes_map_to_what_the_docs_say_they_mean(int status, VaultErrorKind kind)
    {
        var client = Client(Options());
        Vault.Enqueue(new Fault("auth/token/lookup-self", FaultKind.Status, status, ["first problem", "second problem"]));

        var error = Assert.ThrowsAsync<VaultException>(async () => await client.SendAsync(HttpMethod.Get, "auth/token/lookup-self", Vault.RootToken));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Kind, Is.EqualTo(kind));
            Assert.That(error.StatusCode, Is.EqualTo(status));
            Assert.That(error.VaultErrors, Is.EqualTo(new[] { "first problem", "second problem" }));
            Assert.That(error.IsRetryable, Is.EqualTo(kind == VaultErrorKind.Unavailable));
            Assert.That(error.Message, Does.Contain("GET auth/token/lookup-self").And.Contain(status.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        });
        await Task.CompletedTask;
    }

    [Test]
    public void Token_shaped_words_and_control_characters_in_Vault_errors_are_redacted()
    {
        var client = Client(Options());
        Vault.Enqueue(new Fault("auth/token/lookup-self", FaultKind.Status, 400, [$"bad token {Vault.RootToken}\n\t* b.AAAAAAAAAAAAAAAA and 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 glued:xhvs.GLUEDGLUEDGLUEDGLUED"]));

        var error = Assert.ThrowsAsync<VaultException>(async () => await client.SendAsync(HttpMethod.Get, "auth/token/lookup-self", Vault.RootToken));

        Assert.That(error!.Message, Does.Not.Contain(Vault.RootToken).And.Not.Contain("b.AAAA").And.Not.Contain("0f1e2d3c").And.Not.Contain("GLUED").And.Not.Contain("\n"));
        Assert.That(error.Message, Does.Contain("[redacted]"));
    }

    [Test]
    public void A_hanging_Vault_times_out_as_unavailable_and_a_reset_is_unavailable_too()
    {
        var client = Client(Options(o => o.Timeout = TimeSpan.FromMilliseconds(300)));
        Vault.Enqueue(new Fault("sys/health", FaultKind.Hang, Delay: TimeSpan.FromSeconds(10)));
        Vault.Enqueue(new Fault("sys/health", FaultKind.Reset));

        var timeout = Assert.ThrowsAsync<VaultException>(async () => await client.SendAsync(HttpMethod.Get, "sys/health", null));
        var reset = Assert.ThrowsAsync<VaultException>(async () => await client.SendAsync(HttpMethod.Get, "sys/health", null));

        Assert.That((timeout!.Kind, timeout.StatusCode), Is.EqualTo((VaultErrorKind.Unavailable, (int?)null)));
        Assert.That(timeout.Message, Does.Contain("No answer within 0.3s"));
        Assert.That((reset!.Kind, reset.StatusCode), Is.EqualTo((VaultErrorKind.Unavailable, (int?)null)));
    }

    [Test]
    public void The_callers_cancellation_is_not_turned_into_a_Vault_error()
    {
        var client = Client(Options(o => o.Timeout = TimeSpan.FromSeconds(30)));
        Vault.Enqueue(new Fault("sys/health", FaultKind.Hang, Delay: TimeSpan.FromSeconds(10)));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        Assert.That(async () => await client.SendAsync(HttpMethod.Get, "sys/health", null, cancel.Token), Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public void A_non_json_success_body_is_an_unexpected_response_that_does_not_quote_the_body()
    {
        var client = Client(Options());
        Vault.Enqueue(new Fault("auth/token/lookup-self", FaultKind.Garbage));

        var error = Assert.ThrowsAsync<VaultException>(async () => await client.SendAsync(HttpMethod.Get, "auth/token/lookup-self", Vault.RootToken));

        Assert.That(error!.Kind, Is.EqualTo(VaultErrorKind.UnexpectedResponse));
        Assert.That(error.ToString(), Does.Not.Contain("hunter2"));
    }

    // Secret data is passed on as a JsonElement, which the serializer does not decode: without a strict
    // check these reached the issuer, which turned invalid bytes into U+FFFD or threw while copying them.
    [TestCase(new byte[] { 0xFF }, TestName = "A_response_with_an_invalid_UTF8_byte_is_an_unexpected_response")]
    [TestCase(new byte[] { 0xC0, 0xBD }, TestName = "A_response_with_an_overlong_UTF8_encoding_is_an_unexpected_response")]
    [TestCase(new byte[] { 0x5C, 0x75, 0x64, 0x38, 0x30, 0x30 }, TestName = "A_response_with_an_escaped_lone_surrogate_is_an_unexpected_response")]
    public void A_response_that_is_not_strict_UTF8_is_an_unexpected_response(byte[] raw)
    {
        var client = Client(Options());
        byte[] body = [.. "{\"lease_id\":\"\",\"renewable\":false,\"lease_duration\":0,\"data\":{\"data\":{\"password\":\"hunter"u8, .. raw, .. "\"}}}"u8];
        Vault.Enqueue(new Fault("secret/", FaultKind.Body, Body: body));

        var error = Assert.ThrowsAsync<VaultException>(async () => await client.SendAsync(HttpMethod.Get, "secret/data/agents/db", Vault.RootToken));

        Assert.That(error!.Kind, Is.EqualTo(VaultErrorKind.UnexpectedResponse));
        Assert.That(error.Message, Does.Contain("UTF-8"));
        Assert.That(error.ToString(), Does.Not.Contain("hunter"));
    }

    [Test]
    public async Task Health_is_reachable_when_active_or_standby_and_not_when_sealed()
    {
        var client = Client(Options());
        var active = await client.IsReachableAsync();
        Vault.Enqueue(new Fault("sys/health", FaultKind.Status, 429, []));
        var standby = await client.IsReachableAsync();
        Vault.Sealed = true;
        var sealedVault = await client.IsReachableAsync();
        var readiness = await new VaultReadiness(client).IsReachableAsync();

        Assert.That((active, standby, sealedVault, readiness), Is.EqualTo((true, true, false, false)));
    }

    [Test]
    public async Task Health_is_not_reachable_when_nothing_listens()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var client = Client(Options(o => o.Address = new Uri($"http://127.0.0.1:{port}")));

        Assert.That(await client.IsReachableAsync(), Is.False);
    }
}
