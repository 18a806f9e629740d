using System.Net;
using Grpc.Core;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// A call whose deadline ran out before it reached the broker is answered DEADLINE_EXCEEDED before any work: a handler
/// that beat grpc-dotnet's deadline timer used to answer OK (seen with python3-grpcio's 1 µs timeout once the request
/// path got faster), minting a credential for a client that had already given up.
/// </summary>
public sealed class DeadlineTests
{
    private AnyAgentTicketsBroker _tickets = null!;
    private BrokerServerFixture _broker = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _tickets = await AnyAgentTicketsBroker.StartAsync([E2E.AdminPattern]);
        _broker = _tickets.Broker;
    }

    [OneTimeTearDown]
    public async Task Stop() => await _tickets.DisposeAsync();

    // The shortest timeouts grpc-dotnet turns into a deadline (1n is below its 100 ns tick and means none).
    [TestCase("1u")]
    [TestCase("1000n")]
    public async Task A_deadline_that_ran_out_on_the_way_is_refused_and_nothing_is_minted(string grpcTimeout)
    {
        var agent = E2E.Agent("late-caller-" + grpcTimeout);
        for (var i = 0; i < 20; i++)
        {
            var answer = await RawGrpcCall.UnaryAsync(_broker.GrpcUri, "/jitbroker.v1.CredentialBroker/RequestCredential",
                E2E.Tickets($"deadline-{grpcTimeout}-{i}"), _broker.Svid(agent), grpcTimeout);
            Assert.That(answer.GrpcStatus, Is.EqualTo(((int)StatusCode.DeadlineExceeded).ToString()), $"call {i}");
            Assert.That(answer.Body, Is.Empty, $"call {i}: no response message");
        }

        using var admin = E2E.Admin(_broker);
        Assert.That(await E2E.LeasesOfAsync(admin, agent), Is.Empty, "no lease for a client that had given up");
    }

    // Not a timeout grpc-dotnet can read (no unit, a negative or over-long number, two values, nothing): the header is
    // ignored as if absent, and the call is answered normally — never an exception, a 500 or an UNKNOWN status.
    [TestCase("abc")]
    [TestCase("-1S")]
    [TestCase("999999999999S")]
    [TestCase("1u,1u")]
    [TestCase("")]
    public async Task A_grpc_timeout_that_is_not_one_is_ignored_cleanly(string grpcTimeout)
    {
        var name = "odd-timeout-" + Convert.ToHexStringLower(System.Text.Encoding.UTF8.GetBytes(grpcTimeout)); // one task and agent per case
        var answer = await RawGrpcCall.UnaryAsync(_broker.GrpcUri, "/jitbroker.v1.CredentialBroker/RequestCredential",
            E2E.Tickets(name), _broker.Svid(E2E.Agent(name)), grpcTimeout);

        Assert.Multiple(() =>
        {
            Assert.That(answer.Http, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(answer.GrpcStatus, Is.EqualTo("0"));
            Assert.That(answer.Body, Is.Not.Empty);
        });
    }

    [Test]
    public async Task A_deadline_ahead_is_honoured_as_before()
    {
        var answer = await RawGrpcCall.UnaryAsync(_broker.GrpcUri, "/jitbroker.v1.CredentialBroker/RequestCredential",
            E2E.Tickets("deadline-ahead"), _broker.Svid(E2E.Agent("punctual-caller")), "30S");

        Assert.Multiple(() =>
        {
            Assert.That(answer.Http, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(answer.GrpcStatus, Is.EqualTo("0"));
            Assert.That(answer.Body, Is.Not.Empty);
        });
    }
}
