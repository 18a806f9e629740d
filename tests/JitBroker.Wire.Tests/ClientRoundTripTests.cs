using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using JitBroker.Wire.Tests.Infrastructure;
using JitBroker.Wire.Tests.Proto;

namespace JitBroker.Wire.Tests;

/// <summary>GrpcClient against the real Kestrel server: the paths the broker and its agents will use.</summary>
public sealed class ClientRoundTripTests : ServerTestBase
{
    private GrpcClient _client = null!;

    [SetUp]
    public void CreateClient() => _client = new GrpcClient(WireTestServer.Address, new GrpcClientOptions { TimeProvider = WireTestServer.Clock });

    [TearDown]
    public void DisposeClient() => _client.Dispose();

    [Test]
    public async Task Echo_round_trips_the_message_and_exposes_call_context_to_the_handler()
    {
        var headers = new Metadata { { "X-Test-Header", "hello" } };
        var response = await CallAsync("Echo", new TestRequest { Text = "hi", Payload = ByteString.CopyFromUtf8("bytes") }, new CallOptions(headers));

        Assert.Multiple(() =>
        {
            Assert.That(response.Text, Is.EqualTo("hi"));
            Assert.That(response.Payload.ToStringUtf8(), Is.EqualTo("bytes"));
            Assert.That(response.Method, Is.EqualTo($"/{TestService.Name}/Echo"));
            Assert.That(response.Peer, Does.Match(@"^ipv4:127\.0\.0\.1:\d+$"));
            Assert.That(response.HeaderValue, Is.EqualTo("hello"), "custom metadata reaches the handler, key lowercased");
            Assert.That(response.UserAgent, Is.EqualTo("jitbroker-wire/1.0"));
            Assert.That(response.HasDeadline, Is.False, "no grpc-timeout → no deadline");
        });
    }

    [Test]
    public async Task Deadline_is_sent_as_grpc_timeout_and_seen_by_the_handler_on_the_same_clock()
    {
        var deadline = WireTestServer.Clock.GetUtcNow().AddSeconds(10);
        var response = await CallAsync("Echo", new TestRequest(), new CallOptions(Deadline: deadline));

        Assert.That(response.HasDeadline, Is.True);
        Assert.That(response.DeadlineUnixMs, Is.EqualTo(deadline.ToUnixTimeMilliseconds()));
    }

    [Test]
    public async Task Empty_messages_are_valid_in_both_directions()
    {
        var response = await CallAsync("Echo", new TestRequest());
        Assert.That(response.Text, Is.Empty);
    }

    [Test]
    public void Handler_RpcException_reaches_the_client_with_status_unicode_detail_and_trailers()
    {
        const string detail = "refusé: 100% 🔒 \"quoted\"\nline2";
        var ex = Assert.ThrowsAsync<RpcException>(() => CallAsync("Fail", new TestRequest { StatusCode = (int)StatusCode.PermissionDenied, Detail = detail }));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
            Assert.That(ex.Detail, Is.EqualTo(detail));
            Assert.That(ex.Trailers.Get("jitbroker-reason"), Is.EqualTo("policy.denied"));
            Assert.That(ex.Trailers.Get("grpc-status"), Is.Null, "reserved headers are not surfaced as metadata");
        });
    }

    [Test]
    public void Handler_throwing_any_other_exception_gives_INTERNAL_with_a_generic_message_and_is_logged()
    {
        ExpectHandlerFailure = true;

        var ex = Assert.ThrowsAsync<RpcException>(() => CallAsync("Throw", new TestRequest()));

        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.Internal));
        Assert.That(ex.Detail, Does.Not.Contain("secret").And.Not.Contain("hunter2").And.Not.Contain(" at "));
        var logged = Logs.Entries.Single(e => e.EventId.Name == "GrpcHandlerFailed");
        Assert.That(logged.Exception, Is.TypeOf<InvalidOperationException>(), "the exception object is logged for operators");
        Assert.That(logged.EventId.Id, Is.EqualTo(2107));
    }

    [Test]
    public void Unknown_method_is_UNIMPLEMENTED()
    {
        var ex = Assert.ThrowsAsync<RpcException>(() => _client.CallUnaryAsync(TestService.Name, "NoSuchMethod", new TestRequest(), TestResponse.Parser));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.Unimplemented));
        Assert.That(ex.Detail, Is.EqualTo("Method is unimplemented."));
    }

    [Test]
    public void Unknown_service_is_UNIMPLEMENTED()
    {
        var ex = Assert.ThrowsAsync<RpcException>(() => _client.CallUnaryAsync("no.such.Service", "Echo", new TestRequest(), TestResponse.Parser));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.Unimplemented));
        Assert.That(ex.Detail, Is.EqualTo("Service is unimplemented."));
    }

    [Test]
    public async Task Deadline_fails_the_call_with_DEADLINE_EXCEEDED_and_cancels_the_handler()
    {
        var call = CallAsync("Block", new TestRequest(), new CallOptions(Deadline: WireTestServer.Clock.GetUtcNow().AddSeconds(1)));
        await Service.BlockStarted.Task.WaitAsync(RawGrpc.CallBound);

        WireTestServer.Clock.Advance(TimeSpan.FromSeconds(2));

        var ex = Assert.ThrowsAsync<RpcException>(() => call.WaitAsync(RawGrpc.CallBound));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.DeadlineExceeded));
        await Service.BlockCancelled.Task.WaitAsync(RawGrpc.CallBound);
    }

    [Test]
    public void A_deadline_already_past_fails_without_calling_the_server()
    {
        var ex = Assert.ThrowsAsync<RpcException>(() => CallAsync("Echo", new TestRequest(), new CallOptions(Deadline: WireTestServer.Clock.GetUtcNow())));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.DeadlineExceeded));
        Assert.That(Service.Invocations, Is.Zero);
    }

    [Test]
    public async Task Cancellation_fails_the_call_with_CANCELLED_and_cancels_the_handler()
    {
        using var cts = new CancellationTokenSource();
        var call = CallAsync("Block", new TestRequest(), new CallOptions(CancellationToken: cts.Token));
        await Service.BlockStarted.Task.WaitAsync(RawGrpc.CallBound);

        await cts.CancelAsync();

        var ex = Assert.ThrowsAsync<RpcException>(() => call.WaitAsync(RawGrpc.CallBound));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.Cancelled));
        await Service.BlockCancelled.Task.WaitAsync(RawGrpc.CallBound);
    }

    [Test]
    public void Response_over_the_client_receive_limit_is_RESOURCE_EXHAUSTED()
    {
        using var small = new GrpcClient(WireTestServer.Address, new GrpcClientOptions { MaxReceiveMessageSize = 1024 });

        var ex = Assert.ThrowsAsync<RpcException>(() => small.CallUnaryAsync(TestService.Name, "Echo", new TestRequest { ResponsePayloadSize = 4096 }, TestResponse.Parser));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.ResourceExhausted));
    }

    [Test]
    public void Response_over_the_server_send_limit_is_RESOURCE_EXHAUSTED()
    {
        var ex = Assert.ThrowsAsync<RpcException>(() => CallAsync("Echo", new TestRequest { ResponsePayloadSize = (4 * 1024 * 1024) + 1 }));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.ResourceExhausted));
    }

    [Test]
    public void Request_over_the_server_receive_limit_is_RESOURCE_EXHAUSTED()
    {
        var big = new TestRequest { Payload = ByteString.CopyFrom(new byte[(4 * 1024 * 1024) + 1]) };
        var ex = Assert.ThrowsAsync<RpcException>(() => CallAsync("Echo", big));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.ResourceExhausted));
        Assert.That(Service.Invocations, Is.Zero);
    }

    [Test]
    public void Nothing_listening_is_UNAVAILABLE()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var client = new GrpcClient(new Uri($"http://127.0.0.1:{port}"));

        var ex = Assert.ThrowsAsync<RpcException>(() => client.CallUnaryAsync(TestService.Name, "Echo", new TestRequest(), TestResponse.Parser).WaitAsync(RawGrpc.CallBound));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.Unavailable));
    }

    [Test]
    public async Task Many_concurrent_calls_share_one_client()
    {
        var calls = Enumerable.Range(0, 50).Select(i => CallAsync("Echo", new TestRequest { Text = $"n{i}" })).ToList();
        var responses = await Task.WhenAll(calls).WaitAsync(RawGrpc.CallBound);
        Assert.That(responses.Select(r => r.Text), Is.EqualTo(Enumerable.Range(0, 50).Select(i => $"n{i}")));
    }

    private Task<TestResponse> CallAsync(string method, TestRequest request, CallOptions? options = null) =>
        _client.CallUnaryAsync(TestService.Name, method, request, TestResponse.Parser, options);
}
