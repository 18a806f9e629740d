using System.Net;

namespace JitBroker.Wire.Tests.Infrastructure;

/// <summary>
/// A request body that sends its first bytes and then stays open (no END_STREAM) until released, or
/// fails so the client resets the stream mid-body.
/// </summary>
internal sealed class HeldOpenContent(byte[] firstBytes, Task release, bool failAfterRelease) : HttpContent
{
    public TaskCompletionSource FirstBytesSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(firstBytes, cancellationToken);
        await stream.FlushAsync(cancellationToken);
        FirstBytesSent.TrySetResult();
        await release.WaitAsync(cancellationToken);
        if (failAfterRelease)
        {
            throw new IOException("the client gave up mid-body");
        }
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
