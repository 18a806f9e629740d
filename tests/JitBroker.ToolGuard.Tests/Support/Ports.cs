namespace JitBroker.ToolGuard.Tests.Support;

/// <summary>
/// Servers here bind a port chosen before start-up (their URLs must be known to configure them), so another process can
/// take it in between; a lost race is retried on a new port rather than failing the test.
/// </summary>
internal static class Ports
{
    public static async Task<T> StartAsync<T>(Func<int, Task<T>> start)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await start(JitBroker.Testing.LoopbackPorts.Free(1)[0]);
            }
            catch (IOException) when (attempt < 5)
            {
                // address already in use: try another port
            }
        }
    }
}
