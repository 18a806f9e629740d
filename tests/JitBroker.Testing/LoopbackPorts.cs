using System.Net;
using System.Net.Sockets;

namespace JitBroker.Testing;

/// <summary>Free TCP ports on loopback for the processes a test starts.</summary>
public static class LoopbackPorts
{
    /// <summary>
    /// Distinct free loopback ports. The listeners stay open until all are chosen: closed one by one, the OS may hand
    /// out the same port twice (seen under load: two listeners of one broker given one port).
    /// </summary>
    public static int[] Free(int count)
    {
        var listeners = new TcpListener[count];
        try
        {
            for (var i = 0; i < count; i++)
            {
                listeners[i] = new TcpListener(IPAddress.Loopback, 0);
                listeners[i].Start();
            }

            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var listener in listeners)
            {
                listener?.Stop();
                listener?.Dispose();
            }
        }
    }

    /// <summary>
    /// Starts a server on a port chosen before start-up (its URL must be known to configure it), so another process can
    /// take the port in between: a lost race (address already in use) is retried on a new port instead of failing the
    /// test. <paramref name="start"/> must clean up what it started when it throws.
    /// </summary>
    public static async Task<T> StartOnFreePortAsync<T>(Func<int, Task<T>> start, int attempts = 5)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await start(Free(1)[0]).ConfigureAwait(false);
            }
            catch (IOException e) when (attempt < attempts && AddressInUse(e))
            {
                // taken between choosing and binding: try another port
            }
        }
    }

    private static bool AddressInUse(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse })
            {
                return true;
            }
        }

        return false;
    }
}
