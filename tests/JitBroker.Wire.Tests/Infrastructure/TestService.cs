using Google.Protobuf;
using JitBroker.Wire.Tests.Proto;

namespace JitBroker.Wire.Tests.Infrastructure;

/// <summary>A small service over the test messages, with hooks that let tests observe the server side.</summary>
internal sealed class TestService
{
    public const string Name = "jitbroker.wire.test.TestService";

    private int _invocations;

    public int Invocations => Volatile.Read(ref _invocations);

    /// <summary>Completed when <c>Block</c> has started.</summary>
    public TaskCompletionSource BlockStarted { get; private set; } = NewSignal();

    /// <summary>Completed when the <c>Block</c> handler's CancellationToken fires.</summary>
    public TaskCompletionSource BlockCancelled { get; private set; } = NewSignal();

    /// <summary><c>Block</c> waits for this, deliberately ignoring its CancellationToken.</summary>
    public TaskCompletionSource BlockRelease { get; private set; } = NewSignal();

    /// <summary>Completed when a <c>Block</c> call has returned from the handler.</summary>
    public TaskCompletionSource BlockReturned { get; private set; } = NewSignal();

    public void Reset()
    {
        BlockRelease.TrySetResult(); // never leave an old handler hanging
        BlockStarted = NewSignal();
        BlockCancelled = NewSignal();
        BlockRelease = NewSignal();
        BlockReturned = NewSignal();
        Interlocked.Exchange(ref _invocations, 0);
    }

    public void Register(GrpcServiceRegistry registry)
    {
        registry.AddUnary<TestRequest, TestResponse>(Name, "Echo", TestRequest.Parser, EchoAsync);
        registry.AddUnary<TestRequest, TestResponse>(Name, "Fail", TestRequest.Parser, FailAsync);
        registry.AddUnary<TestRequest, TestResponse>(Name, "Throw", TestRequest.Parser, ThrowAsync);
        registry.AddUnary<TestRequest, TestResponse>(Name, "Block", TestRequest.Parser, BlockAsync);
    }

    private Task<TestResponse> EchoAsync(TestRequest request, ServerCallContext context)
    {
        Interlocked.Increment(ref _invocations);
        if (request.TrailerValue.Length > 0)
        {
            context.ResponseTrailers.Add("x-test-trailer", request.TrailerValue);
        }

        return Task.FromResult(new TestResponse
        {
            Text = request.Text,
            Payload = request.ResponsePayloadSize > 0 ? ByteString.CopyFrom(new byte[request.ResponsePayloadSize]) : request.Payload,
            Method = context.Method,
            Peer = context.Peer,
            HasDeadline = context.Deadline.HasValue,
            DeadlineUnixMs = context.Deadline?.ToUnixTimeMilliseconds() ?? 0,
            HeaderValue = context.RequestHeaders.Get("x-test-header") ?? string.Empty,
            UserAgent = context.RequestHeaders.Get("user-agent") ?? string.Empty,
            ClientCertificateSubject = context.ClientCertificate?.Subject ?? string.Empty,
        });
    }

    private Task<TestResponse> FailAsync(TestRequest request, ServerCallContext context)
    {
        Interlocked.Increment(ref _invocations);
        var trailers = new Metadata { { "jitbroker-reason", "policy.denied" } };
        throw new RpcException((StatusCode)request.StatusCode, request.Detail, trailers);
    }

    private Task<TestResponse> ThrowAsync(TestRequest request, ServerCallContext context)
    {
        Interlocked.Increment(ref _invocations);
        throw new InvalidOperationException("secret-internal-detail: connection string Password=hunter2");
    }

    private async Task<TestResponse> BlockAsync(TestRequest request, ServerCallContext context)
    {
        Interlocked.Increment(ref _invocations);
        var cancelled = BlockCancelled;
        using var registration = context.CancellationToken.Register(() => cancelled.TrySetResult());
        BlockStarted.TrySetResult();
        await BlockRelease.Task;
        BlockReturned.TrySetResult();
        return new TestResponse { Text = "released" };
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
