using Grpc.Core;
using Grpc.Net.Client;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// Bytes that are not the declared protobuf message, sent as raw gRPC frames: the answer is a clean
/// INVALID_ARGUMENT with a reason code, never INTERNAL/UNKNOWN, and never reaches a handler.
/// </summary>
[NonParallelizable]
public sealed class MalformedMessageTests
{
    private static readonly Marshaller<byte[]> Raw = Marshallers.Create(b => b, b => b);

    private BrokerServerFixture _broker = null!;

    [OneTimeSetUp]
    public async Task Start() => _broker = await BrokerServerFixture.StartAsync();

    [OneTimeTearDown]
    public async Task Stop() => await _broker.DisposeAsync();

    private static IEnumerable<TestCaseData> Garbage()
    {
        yield return new TestCaseData(new byte[] { 0xff, 0xff, 0xff, 0xff, 0x0f }).SetName("an invalid tag");
        yield return new TestCaseData(new byte[] { 0x0a, 0x7f, 0x41 }).SetName("a truncated length-delimited field");
        yield return new TestCaseData(new byte[] { 0x12, 0x05, 0x0a, 0x80, 0x80, 0x80, 0x80 }).SetName("a truncated varint inside a nested message");
        yield return new TestCaseData(new byte[] { 0x0f }).SetName("an end-group tag with no group");
    }

    [TestCaseSource(nameof(Garbage))]
    public void Garbage_is_invalid_argument_with_a_reason(byte[] body)
    {
        using var channel = GrpcChannel.ForAddress(_broker.GrpcUri);
        var method = new Method<byte[], byte[]>(MethodType.Unary, "jitbroker.v1.CredentialBroker", "RequestCredential", Raw, Raw);
        var headers = new Metadata { { "authorization", "Bearer " + _broker.Svid() } };
        var ex = Assert.ThrowsAsync<RpcException>(async () =>
            await channel.CreateCallInvoker().AsyncUnaryCall(method, null, new CallOptions(headers, TimeProvider.System.GetUtcNow().UtcDateTime.AddSeconds(10)), body));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.InvalidArgument), ex.ToString());
        Assert.That(E2E.Reason(ex), Is.EqualTo("request.malformed"));
    }
}
