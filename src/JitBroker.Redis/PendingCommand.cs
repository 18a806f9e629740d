namespace JitBroker.Redis;

/// <summary>
/// A command waiting to be written, then waiting for its reply. It is its own completion source, saving an
/// allocation per command. Cancellation only abandons the wait: the command stays in the connection's FIFO
/// so the replies that follow are still matched to the right callers.
/// </summary>
internal sealed class PendingCommand : TaskCompletionSource<RedisValue>
{
    private CancellationTokenRegistration _cancellation;

    public PendingCommand(string command, IReadOnlyList<RedisArg> args, long startedAt)
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        Command = command;
        Args = args;
        StartedAt = startedAt;
    }

    public string Command { get; }

    public IReadOnlyList<RedisArg> Args { get; }

    /// <summary>Timestamp (TimeProvider ticks) when the caller submitted it: queueing counts towards the timeout.</summary>
    public long StartedAt { get; }

    public void AttachCancellation(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((PendingCommand)state!).TrySetCanceled(token), this);
        }
    }

    public void Complete(RedisValue reply)
    {
        if (reply.Kind == RedisValueKind.Error)
        {
            TrySetException(new RedisServerException(reply.AsString()!));
        }
        else
        {
            TrySetResult(reply);
        }

        _cancellation.Dispose();
    }

    public void Fail(Exception error)
    {
        TrySetException(error);
        _cancellation.Dispose();
    }
}
