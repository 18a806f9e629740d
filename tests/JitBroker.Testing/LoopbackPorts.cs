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
}
