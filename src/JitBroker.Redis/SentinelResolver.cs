using System.Globalization;

namespace JitBroker.Redis;

/// <summary>Finds the current master through Redis Sentinel and checks with <c>ROLE</c> that it really is one.</summary>
internal static class SentinelResolver
{
    /// <summary>
    /// Asks each sentinel in turn for the master's address; the first answer wins. Throws
    /// <see cref="RedisConnectionException"/> when no sentinel knows the master.
    /// </summary>
    public static async Task<RedisEndpoint> ResolveMasterAsync(RedisOptions options, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        foreach (var text in options.SentinelEndpoints)
        {
            var sentinel = RedisEndpoint.Parse(text);
            try
            {
                // Sentinels take no SELECT and have their own credentials.
                var connection = await RedisConnector.OpenAsync(
                    sentinel, options, options.SentinelUser, options.SentinelPassword, database: 0, time, cancellationToken).ConfigureAwait(false);
                await using (connection.ConfigureAwait(false))
                {
                    var reply = await connection.SendAsync("SENTINEL", ["get-master-addr-by-name", options.SentinelMasterName!], cancellationToken)
                        .WaitAsync(options.CommandTimeout, cancellationToken).ConfigureAwait(false);
                    var address = reply.AsArray();
                    if (address.Length == 2)
                    {
                        return new RedisEndpoint(address[0].AsString()!, int.Parse(address[1].AsString()!, CultureInfo.InvariantCulture));
                    }

                    errors.Add($"{sentinel}: does not know master '{options.SentinelMasterName}'");
                }
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                errors.Add($"{sentinel}: {ex.Message}");
            }
        }

        throw new RedisConnectionException("No sentinel gave the master's address: " + string.Join("; ", errors));
    }

    /// <summary>Sentinel may lag behind a failover: refuse a server that is not (or no longer) a master.</summary>
    public static async Task EnsureMasterAsync(RedisPhysicalConnection connection, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var role = await connection.SendAsync("ROLE", [], cancellationToken).WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        var items = role.AsArray();
        var name = items.Length > 0 ? items[0].AsString() : null;
        if (!string.Equals(name, "master", StringComparison.Ordinal))
        {
            throw new RedisConnectionException($"Sentinel named {connection.Endpoint} as master, but its role is '{name}'.");
        }
    }
}
