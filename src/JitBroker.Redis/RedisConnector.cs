using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace JitBroker.Redis;

/// <summary>Opens one ready-to-use connection: TCP, optional TLS, then AUTH / SELECT / CLIENT SETNAME pipelined.</summary>
internal static class RedisConnector
{
    public static async Task<RedisPhysicalConnection> OpenAsync(
        RedisEndpoint endpoint, RedisOptions options, string? user, string? password, int database, TimeProvider time, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.ConnectTimeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        RedisPhysicalConnection? connection = null;
        try
        {
            await socket.ConnectAsync(endpoint.Host, endpoint.Port, deadline.Token).ConfigureAwait(false);
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            if (options.UseTls)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = tls;
                await tls.AuthenticateAsClientAsync(TlsOptions(options, endpoint), deadline.Token).ConfigureAwait(false);
            }

            connection = new RedisPhysicalConnection(stream, endpoint, time, options.CommandTimeout);
            connection.Start();
            await HandshakeAsync(connection, options, user, password, database, deadline.Token).ConfigureAwait(false);
            return connection;
        }
        catch (Exception ex)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            socket.Dispose();
            if (ex is OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            throw ex switch
            {
                OperationCanceledException => new RedisConnectionException(
                    $"Connecting to Redis at {endpoint} timed out after {options.ConnectTimeout.TotalMilliseconds:0} ms."),
                RedisServerException server => new RedisConnectionException(
                    $"Redis at {endpoint} refused the connection: {server.Message}", server),
                RedisConnectionException connectionError => connectionError,
                _ => new RedisConnectionException($"Connecting to Redis at {endpoint} failed: {ex.Message}", ex),
            };
        }
    }

    private static async Task HandshakeAsync(
        RedisPhysicalConnection connection, RedisOptions options, string? user, string? password, int database, CancellationToken cancellationToken)
    {
        // Pipelined: AUTH first, so the commands behind it run authenticated (or fail with NOAUTH after it).
        Task<RedisValue>? auth = password is null ? null
            : user is null ? connection.SendAsync("AUTH", [password], cancellationToken)
            : connection.SendAsync("AUTH", [user, password], cancellationToken);
        var select = database == 0 ? null : connection.SendAsync("SELECT", [database], cancellationToken);
        var name = connection.SendAsync("CLIENT", ["SETNAME", options.ClientName], cancellationToken);
        var ping = connection.SendAsync("PING", [], cancellationToken);
        if (auth is not null)
        {
            await auth.ConfigureAwait(false);
        }

        if (select is not null)
        {
            await select.ConfigureAwait(false);
        }

        try
        {
            await name.ConfigureAwait(false);
        }
        catch (RedisServerException)
        {
            // An ACL user without +client may not name itself; the name is only a courtesy to operators.
        }

        // PING proves the server serves commands (not LOADING after a restart) before callers get the connection.
        await ping.ConfigureAwait(false);
    }

    private static SslClientAuthenticationOptions TlsOptions(RedisOptions options, RedisEndpoint endpoint)
    {
        var tls = new SslClientAuthenticationOptions
        {
            TargetHost = options.TlsServerName ?? endpoint.Host,
            EnabledSslProtocols = System.Security.Authentication.SslProtocols.None, // the OS default: TLS 1.2/1.3
        };
        if (options.ClientCertificatePath is not null && options.ClientKeyPath is not null)
        {
            tls.ClientCertificates = [X509Certificate2.CreateFromPemFile(options.ClientCertificatePath, options.ClientKeyPath)];
        }

        if (options.CaCertificatePath is not null)
        {
            var ca = X509CertificateLoader.LoadCertificateFromFile(options.CaCertificatePath);
            tls.RemoteCertificateValidationCallback = (_, certificate, _, errors) => IsTrusted(certificate, errors, ca);
        }

        return tls;
    }

    /// <summary>Chains to the configured CA only (not the system store), and the name must match.</summary>
    private static bool IsTrusted(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2 ca)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }
}
