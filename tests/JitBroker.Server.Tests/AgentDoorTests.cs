using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using JitBroker.Core;
using JitBroker.Protocol.V1;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Every method of the agent API passes the gRPC door (<see cref="GrpcDoor"/>), which the service calls inline in each
/// method rather than through an interceptor — so a method that forgot it would skip the per-peer rate limit, the
/// deadline check and the status mapping. Each method of the service's descriptor is called over raw HTTP/2 from a
/// loopback address of its own: refusals after attestation give the peer's token back; failed attestations keep it,
/// until the peer is refused with <see cref="Reasons.PeerRateLimited"/>; every refusal carries its
/// <c>jitbroker-reason</c>. The door's deadline check, which comes first, is asked directly.
/// </summary>
public sealed class AgentDoorTests
{
    private const int PeerBurst = 2;

    private static readonly IEnumerable<MethodDescriptor> Methods = CredentialBroker.Descriptor.Methods;

    private AnyAgentTicketsBroker _tickets = null!;
    private BrokerServerFixture _broker = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        // 1 failed attestation per second, 2 at once: a method that kept the token of calls which did not fail attestation
        // would refuse the third of the ten quick calls below.
        _tickets = await AnyAgentTicketsBroker.StartAsync([], new Dictionary<string, string?>
        {
            ["JitBroker:Admission:PeerFailuresPerSecond"] = "1",
            ["JitBroker:Admission:PeerBurst"] = PeerBurst.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        _broker = _tickets.Broker;
    }

    [OneTimeTearDown]
    public async Task Stop() => await _tickets.DisposeAsync();

    [Test]
    public void The_cases_walk_the_service_descriptor() =>
        // The cases below take the methods from the service's own descriptor, so a new method is covered the day it is
        // added; this only guards against walking nothing.
        Assert.That(Methods.Select(m => m.Name), Does.Contain("RequestCredential").And.Contain("EndTask").And.Contain("ReportUses"));

    [Test]
    public void The_door_refuses_a_call_whose_deadline_passed_before_looking_at_anything_else()
    {
        // Over the wire the check cannot be told apart from grpc-dotnet's own deadline timer for most calls (DeadlineTests
        // catches the race on RequestCredential); here it is asked directly. The door has no peer admission: the deadline
        // comes first, so nothing else is needed — without the check, reading the peer of this context would throw instead.
        var door = new GrpcDoor(null!, Microsoft.Extensions.Logging.Abstractions.NullLogger<GrpcDoor>.Instance);
        var late = new BareCallContext(DateTime.UtcNow.AddTicks(-1));

        var refusal = Assert.Throws<RpcException>(() => door.EnterAgentCall(late));
        Assert.That(refusal!.StatusCode, Is.EqualTo(StatusCode.DeadlineExceeded));
        Assert.Throws<InvalidOperationException>(() => door.EnterAgentCall(new BareCallContext(DateTime.UtcNow.AddMinutes(1))),
            "a deadline ahead goes on to read the peer (which this bare context does not have)");
    }

    [TestCaseSource(nameof(MethodNames))]
    public async Task Calls_that_pass_attestation_give_the_peers_token_back_and_failed_ones_use_it_up(string method)
    {
        var peer = PeerFor(method);

        // Attested callers with an empty (so refused or empty-handed) request: ten quick calls, five times the burst.
        for (var i = 0; i < 5 * PeerBurst; i++)
        {
            var attested = await CallAsync(method, _broker.Svid(E2E.Agent($"door-{method}-{i}")), "30S", peer);
            Assert.That(attested.GrpcStatus, Is.Not.EqualTo(((int)StatusCode.ResourceExhausted).ToString())
                .And.Not.EqualTo(((int)StatusCode.Unauthenticated).ToString()), $"attested call {i}");
            if (attested.GrpcStatus != "0")
            {
                Assert.That(attested.Reason, Is.Not.Null.And.Not.Empty, $"attested call {i}: a refusal names its reason");
            }
        }

        // Tokens that attest nothing: refused as unauthenticated, each keeps the peer's token, until the peer is refused.
        var answers = new List<RawGrpcAnswer>();
        for (var i = 0; i < 10 * PeerBurst && answers.LastOrDefault()?.GrpcStatus != ((int)StatusCode.ResourceExhausted).ToString(); i++)
        {
            answers.Add(await CallAsync(method, "not-a-token", "30S", peer));
        }

        Assert.Multiple(() =>
        {
            Assert.That(answers[0].GrpcStatus, Is.EqualTo(((int)StatusCode.Unauthenticated).ToString()));
            Assert.That(answers[0].Reason, Does.StartWith("identity."), "the attestation failure's reason");
            Assert.That(answers[^1].GrpcStatus, Is.EqualTo(((int)StatusCode.ResourceExhausted).ToString()), "the peer ends up rate limited");
            Assert.That(answers[^1].Reason, Is.EqualTo(Reasons.PeerRateLimited));
            Assert.That(answers.Count, Is.LessThanOrEqualTo(PeerBurst + 2), "refused once its burst of failures is used up (one refill at most)");
        });
    }

    private static IEnumerable<string> MethodNames() => Methods.Select(m => m.Name);

    // A loopback address of its own per method (the flood tests use .2 to .7): each starts with a full bucket.
    private static string PeerFor(string method) =>
        "127.0.0." + (20 + Methods.Select(m => m.Name).ToList().IndexOf(method)).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private Task<RawGrpcAnswer> CallAsync(string method, string bearer, string grpcTimeout, string peer)
    {
        var descriptor = Methods.Single(m => m.Name == method);
        var empty = descriptor.InputType.Parser.ParseFrom(ByteString.Empty);
        return RawGrpcCall.UnaryAsync(_broker.GrpcUri, $"/{CredentialBrokerGrpcService.ServiceName}/{method}", empty, bearer, grpcTimeout, peer);
    }

    /// <summary>A call context with only a method and a deadline: no HTTP context behind it.</summary>
    private sealed class BareCallContext(DateTime deadline) : ServerCallContext
    {
        protected override string MethodCore => "/" + CredentialBrokerGrpcService.ServiceName + "/RequestCredential";

        protected override string HostCore => "localhost";

        protected override string PeerCore => "ipv4:127.0.0.1:1";

        protected override DateTime DeadlineCore => deadline;

        protected override Metadata RequestHeadersCore { get; } = [];

        protected override CancellationToken CancellationTokenCore => CancellationToken.None;

        protected override Metadata ResponseTrailersCore { get; } = [];

        protected override Status StatusCore { get; set; }

        protected override WriteOptions? WriteOptionsCore { get; set; }

        protected override AuthContext AuthContextCore => new(null, []);

        protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => throw new NotSupportedException();

        protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
    }
}
