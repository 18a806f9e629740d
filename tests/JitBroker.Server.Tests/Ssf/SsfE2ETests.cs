using System.Diagnostics;
using System.Net;
using JitBroker.Cli;
using JitBroker.Protocol.V1;
using JitBroker.Server.Ssf;
using Microsoft.IdentityModel.Tokens;
using NUnit.Framework;

namespace JitBroker.Server.Tests.Ssf;

/// <summary>
/// The Shared Signals transmitter over real Kestrel: receivers register streams with their workload identity, EndTask
/// pushes a CAEP session-revoked SET that an independent receiver (python3-jwt) and a .NET one verify; outages are caught
/// up; hostile receivers never slow a revocation.
/// </summary>
[NonParallelizable]
public sealed class SsfE2ETests
{
    private const string Tickets = "spiffe://dev.jitbroker.local/tools/tickets";
    private const string Crm = "spiffe://dev.jitbroker.local/tools/crm";
    private const string CrmAudience = "https://crm.internal.example";

    private BrokerServerFixture _broker = null!;
    private BrokerClient _client = null!;
    private HttpClient _http = null!;
    private string _issuer = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _broker = await OAuthDoor.StartAsync(new Dictionary<string, string?>
        {
            ["JitBroker:Ssf:Enabled"] = "true",
            ["JitBroker:Ssf:AllowLoopbackHttp"] = "true",
            ["JitBroker:Ssf:Receivers:0:Identity"] = Tickets,
            ["JitBroker:Ssf:Receivers:0:Audiences:0"] = BrokerServerFixture.TicketsAudience,
            ["JitBroker:Ssf:Receivers:1:Identity"] = Crm,
            ["JitBroker:Ssf:Receivers:1:Audiences:0"] = CrmAudience,
            ["JitBroker:Ssf:Receivers:1:EndpointPrefixes:0"] = "http://127.0.0.1:9/",
            ["JitBroker:Ssf:PollInterval"] = "00:00:00.050",
            ["JitBroker:Ssf:PushTimeout"] = "00:00:00.500",
            ["JitBroker:Ssf:RetryInitialDelay"] = "00:00:00.100",
            ["JitBroker:Ssf:RetryMaxDelay"] = "00:00:00.300",
            ["JitBroker:Admin:Principals:0"] = E2E.AdminPattern,
        });
        _client = _broker.Client();
        _http = new HttpClient();
        _issuer = OAuthDoor.Issuer(_broker);
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        _http.Dispose();
        _client.Dispose();
        await _broker.DisposeAsync();
    }

    private string Bearer(string id) => _broker.Dev.MintSvid(id, "jitbroker", TimeSpan.FromMinutes(5));

    private Task<(HttpStatusCode Status, System.Text.Json.JsonElement Body, HttpResponseMessage Response)> CreateStreamAsync(string receiver, string endpoint, string[]? aud = null) =>
        SsfCalls.SendAsync(_http, HttpMethod.Post, _issuer + SsfEndpoints.StreamsPath, Bearer(receiver), aud is null
            ? new { delivery = new { method = "urn:ietf:rfc:8935", endpoint_url = endpoint }, events_requested = new[] { SignalEventTypes.SessionRevoked } }
            : new { delivery = new { method = "urn:ietf:rfc:8935", endpoint_url = endpoint }, events_requested = new[] { SignalEventTypes.SessionRevoked }, aud });

    private async Task<(string LeaseId, TimeSpan EndTask)> IssueAndEndAsync(string task)
    {
        var svid = _broker.Svid();
        var issued = await _client.RequestCredentialAsync(svid, BrokerClient.NewRequest(task, "tickets.create", BrokerServerFixture.TicketsAudience,
            ["zendesk"], ["tickets/42"], "test", TimeSpan.FromMinutes(2)));
        var watch = Stopwatch.StartNew();
        var ended = await _client.EndTaskAsync(svid, task);
        Assert.That(ended.Leases[0].Outcome, Is.EqualTo(LeaseOutcome.Types.Outcome.Revoked));
        return (issued.LeaseId, watch.Elapsed);
    }

    private async Task DeleteAsync(string receiver, string streamId) =>
        Assert.That((await SsfCalls.SendAsync(_http, HttpMethod.Delete, _issuer + SsfEndpoints.StreamsPath + "?stream_id=" + streamId, Bearer(receiver), null)).Status,
            Is.EqualTo(HttpStatusCode.NoContent));

    [Test]
    public async Task The_ssf_configuration_names_the_issuer_jwks_and_endpoints()
    {
        var doc = System.Text.Json.JsonDocument.Parse(await _http.GetStringAsync(_issuer + "/.well-known/ssf-configuration")).RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(doc.GetProperty("issuer").GetString(), Is.EqualTo(_issuer));
            Assert.That(doc.GetProperty("jwks_uri").GetString(), Is.EqualTo(_issuer + "/.well-known/jwks.json"));
            Assert.That(doc.GetProperty("delivery_methods_supported")[0].GetString(), Is.EqualTo("urn:ietf:rfc:8935"));
            Assert.That(doc.GetProperty("configuration_endpoint").GetString(), Is.EqualTo(_issuer + "/ssf/streams"));
            Assert.That(doc.GetProperty("status_endpoint").GetString(), Is.EqualTo(_issuer + "/ssf/status"));
            Assert.That(doc.GetProperty("verification_endpoint").GetString(), Is.EqualTo(_issuer + "/ssf/verify"));
        });
    }

    [Test]
    public async Task EndTask_pushes_a_session_revoked_set_that_the_python_receiver_verifies_and_a_receiver_outage_loses_nothing()
    {
        await using var python = await PythonSetReceiver.StartAsync(_issuer + "/.well-known/jwks.json", _issuer, BrokerServerFixture.TicketsAudience);
        var created = await CreateStreamAsync(Tickets, python.Url);
        Assert.That(created.Status, Is.EqualTo(HttpStatusCode.Created), created.Body.ToString());
        var streamId = created.Body.GetProperty("stream_id").GetString()!;
        Assert.That(created.Body.GetProperty("events_delivered")[0].GetString(), Is.EqualTo(SignalEventTypes.SessionRevoked));
        try
        {
            var (lease, _) = await IssueAndEndAsync("ssf-py-1");
            var e = await python.WaitForAsync(lease, TimeSpan.FromSeconds(10));
            Assert.That(e, Is.Not.Null, "the python receiver accepted no SET for the ended task: " + await python.StateAsync());
            var ev = e!.Value.GetProperty("events").GetProperty(SignalEventTypes.SessionRevoked);
            Assert.Multiple(() =>
            {
                Assert.That(e.Value.GetProperty("aud").GetString(), Is.EqualTo(BrokerServerFixture.TicketsAudience));
                Assert.That(e.Value.GetProperty("sub_id").GetProperty("format").GetString(), Is.EqualTo("jwt_id"));
                Assert.That(e.Value.GetProperty("sub_id").GetProperty("iss").GetString(), Is.EqualTo(_issuer));
                Assert.That(ev.GetProperty("subject").GetProperty("jti").GetString(), Is.EqualTo(lease));
                Assert.That(ev.GetProperty("event_timestamp").GetInt64(), Is.GreaterThan(0));
            });

            // Outage: the receiver answers 503 while three tasks end; when it is back it gets all three, each once.
            await python.SetModeAsync("503");
            var missed = new List<string>();
            for (var i = 0; i < 3; i++)
            {
                missed.Add((await IssueAndEndAsync($"ssf-py-down-{i}")).LeaseId);
            }

            await Task.Delay(500);
            await python.SetModeAsync("ok");
            foreach (var m in missed)
            {
                Assert.That(await python.WaitForAsync(m, TimeSpan.FromSeconds(10)), Is.Not.Null, "an event sent during the outage was lost");
            }

            Assert.That((await python.StateAsync()).GetProperty("rejected").GetArrayLength(), Is.Zero, "every SET verified");
        }
        finally
        {
            await DeleteAsync(Tickets, streamId);
        }
    }

    [TestCase("500")]
    [TestCase("hang")]
    [TestCase("redirect")]
    public async Task A_failing_receiver_is_retried_without_slowing_EndTask(string mode)
    {
        await using var dotnet = await DotnetSetReceiver.StartAsync();
        dotnet.Keys = new JsonWebKeySet(await _http.GetStringAsync(_issuer + "/.well-known/jwks.json"));
        dotnet.Audience = BrokerServerFixture.TicketsAudience;
        dotnet.Mode = mode;
        var streamId = (await CreateStreamAsync(Tickets, dotnet.Url)).Body.GetProperty("stream_id").GetString()!;
        try
        {
            var (lease, endTask) = await IssueAndEndAsync("ssf-bad-" + mode);
            Assert.That(endTask, Is.LessThan(TimeSpan.FromSeconds(1)), "EndTask waited for the receiver");
            var deadline = Stopwatch.StartNew();
            while (dotnet.Attempts < 2 && deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(20);
            }

            Assert.That(dotnet.Attempts, Is.GreaterThanOrEqualTo(2), "the push was retried");
            Assert.That(dotnet.Accepted, Is.Empty);
            dotnet.Mode = "ok";
            Assert.That(await dotnet.WaitForAsync(t => t.GetPayloadValue<System.Text.Json.JsonElement>("sub_id").GetProperty("jti").GetString() == lease,
                TimeSpan.FromSeconds(10)), Is.True, "the retried SET arrived once the receiver recovered");
        }
        finally
        {
            await DeleteAsync(Tickets, streamId);
        }
    }

    [Test]
    public async Task Jitctl_receivers_shows_pending_sets_lag_and_the_last_error_of_a_failing_receiver()
    {
        await using var dotnet = await DotnetSetReceiver.StartAsync();
        dotnet.Mode = "500";
        var streamId = (await CreateStreamAsync(Tickets, dotnet.Url)).Body.GetProperty("stream_id").GetString()!;
        try
        {
            await IssueAndEndAsync("ssf-jitctl-1");
            var deadline = Stopwatch.StartNew();
            while (dotnet.Attempts < 1 && deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(20);
            }

            await Task.Delay(200);
            var json = await Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker), "receivers", "--json");
            Assert.That(json.Code, Is.Zero, json.ToString());
            var stream = System.Text.Json.JsonDocument.Parse(json.Out).RootElement.GetProperty("streams").EnumerateArray()
                .Single(s => s.GetProperty("streamId").GetString() == streamId);
            Assert.Multiple(() =>
            {
                Assert.That(stream.GetProperty("receiver").GetString(), Is.EqualTo(Tickets));
                Assert.That(stream.GetProperty("pending").GetString(), Is.EqualTo("1"), "protobuf JSON writes int64 as a string");
                Assert.That(stream.GetProperty("lastError").GetString(), Is.EqualTo("HTTP 500"));
            });

            var table = await Jitctl.RunAsync(_broker.GrpcUri, E2E.AdminSvid(_broker), "receivers");
            Assert.That(table.Out, Does.Contain(streamId).And.Contain("HTTP 500"), table.ToString());
        }
        finally
        {
            await DeleteAsync(Tickets, streamId);
        }
    }

    [Test]
    public async Task A_paused_stream_holds_its_sets_until_enabled_and_a_disabled_one_is_sent_nothing()
    {
        await using var dotnet = await DotnetSetReceiver.StartAsync();
        dotnet.Keys = new JsonWebKeySet(await _http.GetStringAsync(_issuer + "/.well-known/jwks.json"));
        dotnet.Audience = BrokerServerFixture.TicketsAudience;
        var streamId = (await CreateStreamAsync(Tickets, dotnet.Url)).Body.GetProperty("stream_id").GetString()!;
        async Task<string> SetStatusAsync(string status)
        {
            var r = await SsfCalls.SendAsync(_http, HttpMethod.Post, _issuer + SsfEndpoints.StatusPath, Bearer(Tickets), new { stream_id = streamId, status });
            Assert.That(r.Status, Is.EqualTo(HttpStatusCode.OK), r.Body.ToString());
            var read = await SsfCalls.SendAsync(_http, HttpMethod.Get, _issuer + SsfEndpoints.StatusPath + "?stream_id=" + streamId, Bearer(Tickets), null);
            return read.Body.GetProperty("status").GetString()!;
        }

        try
        {
            Assert.That(await SetStatusAsync("paused"), Is.EqualTo("paused"));
            var (held, _) = await IssueAndEndAsync("ssf-paused-1");
            await Task.Delay(400);
            Assert.That(dotnet.Attempts, Is.Zero, "a paused stream is not pushed to");

            Assert.That(await SetStatusAsync("enabled"), Is.EqualTo("enabled"));
            Assert.That(await dotnet.WaitForAsync(t => t.GetPayloadValue<System.Text.Json.JsonElement>("sub_id").GetProperty("jti").GetString() == held,
                TimeSpan.FromSeconds(10)), Is.True, "the held SET is delivered once the stream is enabled");

            Assert.That(await SetStatusAsync("disabled"), Is.EqualTo("disabled"));
            var before = dotnet.Attempts;
            await IssueAndEndAsync("ssf-disabled-1");
            await Task.Delay(400);
            Assert.That(dotnet.Attempts, Is.EqualTo(before), "a disabled stream is sent nothing");

            var bad = await SsfCalls.SendAsync(_http, HttpMethod.Post, _issuer + SsfEndpoints.StatusPath, Bearer(Tickets), new { stream_id = streamId, status = "on" });
            Assert.That(bad.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        }
        finally
        {
            await DeleteAsync(Tickets, streamId);
        }
    }

    [Test]
    public async Task A_verification_request_delivers_a_verification_event_with_the_state()
    {
        await using var dotnet = await DotnetSetReceiver.StartAsync();
        dotnet.Keys = new JsonWebKeySet(await _http.GetStringAsync(_issuer + "/.well-known/jwks.json"));
        dotnet.Audience = BrokerServerFixture.TicketsAudience;
        var streamId = (await CreateStreamAsync(Tickets, dotnet.Url)).Body.GetProperty("stream_id").GetString()!;
        try
        {
            var verify = await SsfCalls.SendAsync(_http, HttpMethod.Post, _issuer + SsfEndpoints.VerifyPath, Bearer(Tickets), new { stream_id = streamId, state = "s-123" });
            Assert.That(verify.Status, Is.EqualTo(HttpStatusCode.NoContent));
            Assert.That(await dotnet.WaitForAsync(t => t.GetPayloadValue<System.Text.Json.JsonElement>("events").TryGetProperty(SignalEventTypes.Verification, out var v)
                && v.GetProperty("state").GetString() == "s-123", TimeSpan.FromSeconds(10)), Is.True);
        }
        finally
        {
            await DeleteAsync(Tickets, streamId);
        }
    }

    [Test]
    public async Task Receivers_are_authenticated_and_confined_to_their_own_audiences_and_streams()
    {
        var another = await CreateStreamAsync(Crm, "http://127.0.0.1:9/events", [BrokerServerFixture.TicketsAudience]);
        Assert.That(another.Status, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(another.Response.Headers.GetValues("jitbroker-reason").Single(), Is.EqualTo("ssf.audience_not_allowed"));

        var stranger = await CreateStreamAsync("spiffe://dev.jitbroker.local/agents/support-bot", "http://127.0.0.1:9/events");
        Assert.That(stranger.Status, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(stranger.Response.Headers.GetValues("jitbroker-reason").Single(), Is.EqualTo("ssf.not_a_receiver"));

        var anonymous = await SsfCalls.SendAsync(_http, HttpMethod.Get, _issuer + SsfEndpoints.StreamsPath, null, null);
        Assert.That(anonymous.Status, Is.EqualTo(HttpStatusCode.Unauthorized));

        var forged = await SsfCalls.SendAsync(_http, HttpMethod.Get, _issuer + SsfEndpoints.StreamsPath, "not.a.token", null);
        Assert.That(forged.Status, Is.EqualTo(HttpStatusCode.Unauthorized));

        var mine = await CreateStreamAsync(Crm, "http://127.0.0.1:9/events");
        Assert.That(mine.Status, Is.EqualTo(HttpStatusCode.Created));
        var id = mine.Body.GetProperty("stream_id").GetString()!;
        var theirs = await SsfCalls.SendAsync(_http, HttpMethod.Get, _issuer + SsfEndpoints.StreamsPath + "?stream_id=" + id, Bearer(Tickets), null);
        Assert.That(theirs.Status, Is.EqualTo(HttpStatusCode.NotFound), "another receiver's stream is not found, not forbidden");
        await DeleteAsync(Crm, id);
    }

    [Test]
    public async Task A_delivery_url_outside_the_receivers_prefixes_is_refused()
    {
        var r = await CreateStreamAsync(Crm, "http://127.0.0.1:8/admin");
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(r.Response.Headers.GetValues("jitbroker-reason").Single(), Is.EqualTo("ssf.endpoint_not_allowed"));
    }

    [Test]
    public async Task The_python_receiver_refuses_forged_misaddressed_and_stale_sets_and_drops_replays()
    {
        await using var python = await PythonSetReceiver.StartAsync(_issuer + "/.well-known/jwks.json", _issuer, BrokerServerFixture.TicketsAudience);
        var keys = (JitBroker.Issuance.ISigningKeyProvider)_broker.Services.GetService(typeof(JitBroker.Issuance.ISigningKeyProvider))!;
        var now = DateTimeOffset.UtcNow;
        PendingSignal Set(string id, string aud = BrokerServerFixture.TicketsAudience) => new()
        {
            Id = id, StreamId = "s", EventType = SignalEventTypes.SessionRevoked, Subject = "lease_x", Audience = aud, EventTimestamp = now, EnqueuedAt = now,
        };
        using var forgedKeys = new JitBroker.Issuance.StaticSigningKeyProvider(JitBroker.Issuance.SigningKey.Generate());
        var genuine = new SecurityEventTokens(keys, _issuer);
        var cases = new[]
        {
            (new SecurityEventTokens(forgedKeys, _issuer).Sign(Set("forged"), now), 400),
            (genuine.Sign(Set("other-aud", "https://elsewhere.example"), now), 400),
            (new SecurityEventTokens(keys, "https://not-the-broker.example").Sign(Set("other-iss"), now), 400),
            (genuine.Sign(Set("stale"), now.AddHours(-1)), 400),
            (genuine.Sign(Set("good"), now), 202),
            (genuine.Sign(Set("good"), now), 202),
        };
        foreach (var (token, expected) in cases)
        {
            using var content = new StringContent(token);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(SetPusher.ContentType);
            Assert.That((int)(await _http.PostAsync(python.Url, content)).StatusCode, Is.EqualTo(expected));
        }

        var state = await python.StateAsync();
        Assert.That(state.GetProperty("events").GetArrayLength(), Is.EqualTo(1));
        Assert.That(state.GetProperty("duplicates").GetInt32(), Is.EqualTo(1), "the replayed jti is acknowledged but not recorded twice");
        Assert.That(state.GetProperty("rejected").EnumerateArray().Select(r => r.GetProperty("err").GetString()),
            Is.EqualTo(new[] { "invalid_request", "invalid_audience", "invalid_issuer", "invalid_request" }));
    }

    [TestCase("[]")]
    [TestCase("{\"delivery\":{\"method\":\"urn:ietf:rfc:8935\",\"endpoint_url\":\"http://example.com/x\"}}")]
    [TestCase("{\"delivery\":{\"method\":\"urn:ietf:rfc:8936\",\"endpoint_url\":\"https://example.com/x\"}}")]
    [TestCase("{\"delivery\":{\"endpoint_url\":\"https://example.com/x\"},\"delivery\":{}}")]
    [TestCase("{\"delivery\":{\"endpoint_url\":42}}")]
    [TestCase("{\"delivery\":{\"endpoint_url\":\"https://example.com/x\"},\"surprise\":1}")]
    [TestCase("{\"delivery\":")]
    public async Task Hostile_stream_requests_are_refused_with_a_reason(string body)
    {
        var r = await SsfCalls.SendAsync(_http, HttpMethod.Post, _issuer + SsfEndpoints.StreamsPath, Bearer(Tickets), body);
        Assert.That(r.Status, Is.EqualTo(HttpStatusCode.BadRequest), r.Body.ToString());
        Assert.That(r.Response.Headers.GetValues("jitbroker-reason").Single(), Is.EqualTo("ssf.request_invalid"));
    }
}
