using JitBroker.Cli;
using JitBroker.Protocol.V1;
using Grpc.Core;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>The vertical slice over real Kestrel and our own gRPC client: attest → decide → mint → lease → revoke.</summary>
[NonParallelizable]
public sealed class EndToEndTests
{
    private BrokerServerFixture _broker = null!;
    private BrokerClient _client = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _broker = await BrokerServerFixture.StartAsync();
        _client = _broker.Client();
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        _client.Dispose();
        await _broker.DisposeAsync();
    }

    private static RequestCredentialRequest TicketRequest(string task, params string[] tools) =>
        BrokerClient.NewRequest(task, "tickets.create", BrokerServerFixture.TicketsAudience, tools, ["tickets/42"], "test", TimeSpan.FromMinutes(2));

    [Test]
    public async Task Credential_is_issued_verifies_against_the_jwks_and_dies_with_the_task()
    {
        var svid = _broker.Svid();
        var issued = await _client.RequestCredentialAsync(svid, TicketRequest("e2e-1", "zendesk", "github"));

        Assert.Multiple(() =>
        {
            Assert.That(issued.LeaseId, Does.StartWith("lease_"));
            Assert.That(issued.Scope.Tools, Is.EqualTo(new[] { "zendesk" }), "github is not allowed by the sample policy: dropped, never granted");
            Assert.That(issued.Scope.Resources, Is.EqualTo(new[] { "tickets/42" }));
            Assert.That(issued.GrantedTtl.ToTimeSpan(), Is.EqualTo(TimeSpan.FromMinutes(2)));
            Assert.That(issued.RuleIds, Is.Not.Empty);
        });

        // A relying party verifies offline with an independent JWT implementation and the published JWKS.
        using var http = new HttpClient();
        var jwks = new JsonWebKeySet(await http.GetStringAsync(new Uri(_broker.HttpUri, "/.well-known/jwks.json")));
        var validation = await new JsonWebTokenHandler().ValidateTokenAsync(issued.Credential.Token, new TokenValidationParameters
        {
            IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidAudience = BrokerServerFixture.TicketsAudience,
            ValidateIssuer = false,
            ClockSkew = TimeSpan.FromSeconds(30),
            ValidAlgorithms = ["ES256"],
        });
        Assert.That(validation.IsValid, Is.True, validation.Exception?.Message);
        var jwt = (JsonWebToken)validation.SecurityToken;
        Assert.Multiple(() =>
        {
            Assert.That(jwt.Typ, Is.EqualTo("at+jwt"));
            Assert.That(jwt.Subject, Is.EqualTo(BrokerServerFixture.SupportBot));
            Assert.That(jwt.Id, Is.EqualTo(issued.LeaseId));
            Assert.That(jwt.GetClaim("task_id").Value, Is.EqualTo("e2e-1"));
        });

        var before = await _client.IntrospectAsync(svid, issued.Credential.Token);
        Assert.That(before.Active, Is.True);
        Assert.That(before.TaskId, Is.EqualTo("e2e-1"));

        var ended = await _client.EndTaskAsync(svid, "e2e-1");
        Assert.That(ended.Leases.Select(l => (l.LeaseId, l.Outcome)),
            Is.EqualTo(new[] { (issued.LeaseId, LeaseOutcome.Types.Outcome.Revoked) }));

        var after = await _client.IntrospectAsync(svid, issued.Credential.Token);
        Assert.That(after.Active, Is.False);
        Assert.That(after.LeaseId, Is.Empty, "inactive answers reveal nothing");

        var again = await _client.EndTaskAsync(svid, "e2e-1");
        Assert.That(again.Leases.Single().Outcome, Is.EqualTo(LeaseOutcome.Types.Outcome.AlreadyRevoked), "EndTask is idempotent");
    }

    [Test]
    public async Task One_task_may_hold_several_leases_and_EndTask_revokes_them_all()
    {
        var svid = _broker.Svid();
        var a = await _client.RequestCredentialAsync(svid, TicketRequest("e2e-multi", "zendesk"));
        var b = await _client.RequestCredentialAsync(svid, TicketRequest("e2e-multi", "crm"));

        var ended = await _client.EndTaskAsync(svid, "e2e-multi");

        Assert.That(ended.Leases.Select(l => l.LeaseId), Is.EquivalentTo(new[] { a.LeaseId, b.LeaseId }));
        Assert.That(ended.Leases.Select(l => l.Outcome), Has.All.EqualTo(LeaseOutcome.Types.Outcome.Revoked));
    }

    [Test]
    public async Task Another_agent_cannot_end_someone_elses_task()
    {
        await _client.RequestCredentialAsync(_broker.Svid(), TicketRequest("e2e-mine", "zendesk"));
        var intruder = _broker.Svid("spiffe://dev.jitbroker.local/agents/reporting-bot");

        var ex = Assert.ThrowsAsync<RpcException>(() => _client.EndTaskAsync(intruder, "e2e-mine"));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.NotFound));
    }

    [Test]
    public void A_denial_names_its_reason_and_carries_a_stable_reason_code()
    {
        var request = BrokerClient.NewRequest("e2e-deny", "tickets.delete", BrokerServerFixture.TicketsAudience, resources: ["tickets/1"]);
        var ex = Assert.ThrowsAsync<RpcException>(() => _client.RequestCredentialAsync(_broker.Svid(), request));

        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
        Assert.That(ex.Status.Detail, Does.Contain("human"));
        Assert.That(ex.Trailers.GetValue("jitbroker-reason"), Is.EqualTo("policy.denied"));
    }

    [TestCase(null, "identity.missing")]
    [TestCase("Basic dXNlcjpwYXNz", "identity.malformed_authorization")]
    [TestCase("Bearer not-a-jwt", null)]
    public void Bad_identities_are_unauthenticated_with_a_reason(string? authorization, string? reason)
    {
        using var client = _broker.Client();
        var headers = new Metadata();
        if (authorization is not null)
        {
            headers.Add("authorization", authorization);
        }

        var ex = Assert.ThrowsAsync<RpcException>(async () => await client.Generated.RequestCredentialAsync(TicketRequest("e2e-unauth"), headers));

        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.Unauthenticated));
        Assert.That(ex.Trailers.GetValue("jitbroker-reason"), reason is null ? Is.Not.Null : Is.EqualTo(reason));
        Assert.That(ex.Status.Detail, Does.Not.Contain("at ").And.Not.Contain("Exception"), "no stack trace or exception text");
    }

    [Test]
    public void An_svid_for_another_audience_is_refused()
    {
        var svid = _broker.Dev.MintSvid(BrokerServerFixture.SupportBot, "someone-else", TimeSpan.FromMinutes(5));
        var ex = Assert.ThrowsAsync<RpcException>(() => _client.RequestCredentialAsync(svid, TicketRequest("e2e-aud")));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.Unauthenticated));
    }

    [Test]
    public void Malformed_requests_are_invalid_argument()
    {
        var request = TicketRequest("bad task id with spaces", "zendesk");
        var ex = Assert.ThrowsAsync<RpcException>(() => _client.RequestCredentialAsync(_broker.Svid(), request));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.InvalidArgument));
    }

    [Test]
    public async Task Health_check_reports_serving()
    {
        using var channel = GrpcChannels.For(_broker.GrpcUri);
        var health = await new Grpc.Health.V1.Health.HealthClient(channel).CheckAsync(new Grpc.Health.V1.HealthCheckRequest());
        Assert.That(health.Status, Is.EqualTo(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving));

        using var http = new HttpClient();
        Assert.That(await http.GetStringAsync(new Uri(_broker.HttpUri, "/healthz")), Is.EqualTo("ok"));
    }
}
