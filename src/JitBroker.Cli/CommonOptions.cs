using System.CommandLine;
using System.Text.Json;

namespace JitBroker.Cli;

/// <summary>
/// Connection and output options shared by every broker command. Each setting resolves as: flag, then
/// environment variable, then the config file (<c>--config</c>, env <c>JITCTL_CONFIG</c>, default
/// <c>~/.config/jitctl/config.json</c>: <c>{"broker": "...", "admin_endpoint": "...", "identity_file": "...", "timeout": 10,
/// "admin_client_cert": "...", "admin_client_key": "...", "admin_ca": "..."}</c>), then the default. The admin TLS settings
/// apply to the admin channel only; the agent channel never presents the operator's client certificate.
/// </summary>
internal sealed class CommonOptions
{
    public const string DefaultBroker = "http://127.0.0.1:50051";
    public const string DefaultAdminEndpoint = "http://127.0.0.1:50052";

    public Option<string?> Broker { get; } = new("--broker") { Description = $"Broker gRPC address (env JITCTL_BROKER; default {DefaultBroker})." };

    public Option<string?> AdminEndpoint { get; } = new("--admin-endpoint")
    {
        Description = $"Admin API address, the broker's separate admin listener (env JITCTL_ADMIN_ENDPOINT; default {DefaultAdminEndpoint}).",
    };

    public Option<FileInfo?> AdminClientCert { get; } = new("--admin-client-cert")
    {
        Description = "PEM client certificate presented to the admin listener when it requires one (env JITCTL_ADMIN_CLIENT_CERT; needs --admin-client-key).",
    };

    public Option<FileInfo?> AdminClientKey { get; } = new("--admin-client-key")
    {
        Description = "PEM private key of --admin-client-cert (env JITCTL_ADMIN_CLIENT_KEY).",
    };

    public Option<FileInfo?> AdminCa { get; } = new("--admin-ca")
    {
        Description = "PEM CA certificate(s) that the admin listener's server certificate must chain to, instead of the system roots (env JITCTL_ADMIN_CA).",
    };

    public Option<string?> Identity { get; } = new("--identity") { Description = "Caller identity token, e.g. a JWT-SVID (env JITCTL_IDENTITY)." };

    public Option<FileInfo?> IdentityFile { get; } = new("--identity-file") { Description = "File holding the caller identity token (env JITCTL_IDENTITY_FILE)." };

    public Option<FileInfo?> Config { get; } = new("--config") { Description = "jitctl config file (env JITCTL_CONFIG; default ~/.config/jitctl/config.json)." };

    public Option<bool> Json { get; } = new("--json") { Description = "Print JSON for scripts." };

    public Option<int?> TimeoutSeconds { get; } = new("--timeout") { Description = "Deadline for the call, in seconds (default 10)." };

    public void AddTo(Command command)
    {
        command.Options.Add(Broker);
        command.Options.Add(AdminEndpoint);
        command.Options.Add(AdminClientCert);
        command.Options.Add(AdminClientKey);
        command.Options.Add(AdminCa);
        command.Options.Add(Identity);
        command.Options.Add(IdentityFile);
        command.Options.Add(Config);
        command.Options.Add(Json);
        command.Options.Add(TimeoutSeconds);
    }

    public string ResolveIdentity(ParseResult result)
    {
        var token = result.GetValue(Identity) ?? Environment.GetEnvironmentVariable("JITCTL_IDENTITY");
        var file = result.GetValue(IdentityFile)?.FullName ?? Environment.GetEnvironmentVariable("JITCTL_IDENTITY_FILE") ?? LoadConfig(result).IdentityFile;
        if (token is null && file is not null)
        {
            token = File.Exists(file) ? File.ReadAllText(file).Trim() : throw new UsageException($"identity file '{file}' does not exist.");
        }

        return string.IsNullOrWhiteSpace(token)
            ? throw new UsageException("no caller identity: pass --identity, --identity-file, set JITCTL_IDENTITY, or identity_file in the config file.")
            : token;
    }

    public Uri ResolveBroker(ParseResult result)
    {
        var address = result.GetValue(Broker) ?? Environment.GetEnvironmentVariable("JITCTL_BROKER") ?? LoadConfig(result).Broker ?? DefaultBroker;
        return Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new UsageException($"broker address '{address}' is not an http(s) URL.");
    }

    public Uri ResolveAdminEndpoint(ParseResult result)
    {
        var address = result.GetValue(AdminEndpoint) ?? Environment.GetEnvironmentVariable("JITCTL_ADMIN_ENDPOINT")
            ?? LoadConfig(result).AdminEndpoint ?? DefaultAdminEndpoint;
        return Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new UsageException($"admin endpoint '{address}' is not an http(s) URL.");
    }

    public BrokerClient CreateClient(ParseResult result) => new(ResolveBroker(result));

    public AdminClient CreateAdminClient(ParseResult result)
    {
        var address = ResolveAdminEndpoint(result);
        var identity = ResolveIdentity(result);
        var config = LoadConfig(result);
        var certPath = result.GetValue(AdminClientCert)?.FullName ?? Environment.GetEnvironmentVariable("JITCTL_ADMIN_CLIENT_CERT") ?? config.AdminClientCert;
        var keyPath = result.GetValue(AdminClientKey)?.FullName ?? Environment.GetEnvironmentVariable("JITCTL_ADMIN_CLIENT_KEY") ?? config.AdminClientKey;
        var caPath = result.GetValue(AdminCa)?.FullName ?? Environment.GetEnvironmentVariable("JITCTL_ADMIN_CA") ?? config.AdminCa;
        if (certPath is null && keyPath is null && caPath is null)
        {
            return new AdminClient(address, identity, Timeout(result));
        }

        if (address.Scheme != "https")
        {
            throw new UsageException($"--admin-client-cert, --admin-client-key and --admin-ca need an https admin endpoint (got '{address}').");
        }

        return new AdminClient(address, identity, Timeout(result), AdminTls.Handler(certPath, keyPath, caPath));
    }

    public TimeSpan Timeout(ParseResult result) =>
        TimeSpan.FromSeconds(Math.Max(1, result.GetValue(TimeoutSeconds) ?? LoadConfig(result).Timeout ?? 10));

    private CliConfig LoadConfig(ParseResult result)
    {
        var explicitPath = result.GetValue(Config)?.FullName ?? Environment.GetEnvironmentVariable("JITCTL_CONFIG");
        var path = explicitPath ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config", "jitctl", "config.json");
        if (!File.Exists(path))
        {
            return explicitPath is null ? new CliConfig() : throw new UsageException($"config file '{path}' does not exist.");
        }

        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            return new CliConfig(
                root.TryGetProperty("broker", out var b) ? b.GetString() : null,
                root.TryGetProperty("admin_endpoint", out var a) ? a.GetString() : null,
                root.TryGetProperty("identity_file", out var f) ? f.GetString() : null,
                root.TryGetProperty("timeout", out var t) && t.TryGetInt32(out var seconds) ? seconds : null,
                root.TryGetProperty("admin_client_cert", out var cc) ? cc.GetString() : null,
                root.TryGetProperty("admin_client_key", out var ck) ? ck.GetString() : null,
                root.TryGetProperty("admin_ca", out var ca) ? ca.GetString() : null);
        }
        catch (JsonException ex)
        {
            throw new UsageException($"config file '{path}' is not valid JSON: {ex.Message}");
        }
    }

    private sealed record CliConfig(string? Broker = null, string? AdminEndpoint = null, string? IdentityFile = null, int? Timeout = null,
        string? AdminClientCert = null, string? AdminClientKey = null, string? AdminCa = null);
}

internal sealed class UsageException(string message) : Exception(message);
