using System.CommandLine;
using System.Text.Json;

namespace JitBroker.Cli;

/// <summary>
/// Connection and output options shared by every broker command. Each setting resolves as: flag, then
/// environment variable, then the config file (<c>--config</c>, env <c>JITCTL_CONFIG</c>, default
/// <c>~/.config/jitctl/config.json</c>: <c>{"broker": "...", "admin_endpoint": "...", "identity_file": "...", "identity_command": "...", "timeout": 10,
/// "admin_client_cert": "...", "admin_client_key": "...", "admin_ca": "..."}</c>), then the default. The admin TLS settings
/// apply to the admin channel only; the agent channel never presents the operator's client certificate.
/// The identity token is a bearer secret: <c>JITCTL_IDENTITY</c> and <c>--identity TOKEN</c> expose it (to the
/// process's environment and to <c>/proc/&lt;pid&gt;/cmdline</c>); a file, stdin (<c>-</c>) or a command keeps it off both.
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

    public Option<string?> Identity { get; } = new("--identity")
    {
        Description = "Caller identity token, e.g. a JWT-SVID: '-' reads stdin, @FILE a file; a literal token is visible in /proc " +
            "(env JITCTL_IDENTITY — a bearer token in the environment).",
    };

    public Option<FileInfo?> IdentityFile { get; } = new("--identity-file") { Description = "File holding the caller identity token (env JITCTL_IDENTITY_FILE)." };

    public Option<string?> IdentityCommand { get; } = new("--identity-command")
    {
        Description = "Shell command printing a fresh identity token, run before every admin call: the broker accepts each admin token " +
            "once (env JITCTL_IDENTITY_COMMAND).",
    };

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
        command.Options.Add(IdentityCommand);
        command.Options.Add(Config);
        command.Options.Add(Json);
        command.Options.Add(TimeoutSeconds);
    }

    /// <summary>The caller's token for one call: --identity, JITCTL_IDENTITY, the identity file, else one run of the identity command.</summary>
    public async Task<string> ResolveIdentityAsync(ParseResult result, CancellationToken cancellationToken = default)
    {
        if (ResolveFixedIdentity(result) is { } token)
        {
            return await token;
        }

        return ResolveIdentityCommand(result) is { } command
            ? await Cli.IdentityCommand.RunAsync(command, Timeout(result), cancellationToken)
            : throw new UsageException("no caller identity: pass --identity, --identity-file or --identity-command, set JITCTL_IDENTITY_FILE, " +
                "or identity_file / identity_command in the config file.");
    }

    /// <summary>
    /// For the admin API, which accepts each token once: with an identity command, a fresh token per call; with a fixed
    /// token, that token for the first call and a usage error (before anything is sent) for any further one.
    /// </summary>
    public Func<CancellationToken, Task<string>> ResolveAdminIdentity(ParseResult result)
    {
        if (ResolveFixedIdentity(result) is { } token)
        {
            var used = 0;
            return _ => Interlocked.Exchange(ref used, 1) == 0 ? token
                : throw new UsageException("an admin token serves one call (the broker refuses a replay) and this command needs another: " +
                    "configure --identity-command (env JITCTL_IDENTITY_COMMAND) so jitctl can fetch one per call.");
        }

        var command = ResolveIdentityCommand(result)
            ?? throw new UsageException("no operator identity: pass --identity-command (a fresh token per call), --identity or --identity-file.");
        var timeout = Timeout(result);
        return ct => Cli.IdentityCommand.RunAsync(command, timeout, ct);
    }

    private Task<string>? ResolveFixedIdentity(ParseResult result)
    {
        if (result.GetValue(Identity) is { } value)
        {
            return TokenInput.ReadAsync(value, "--identity");
        }

        // From the environment as it stands: the variable is documented as carrying a bearer token.
        if (Environment.GetEnvironmentVariable("JITCTL_IDENTITY") is { Length: > 0 } fromEnvironment)
        {
            return Task.FromResult(fromEnvironment.Trim());
        }

        var file = result.GetValue(IdentityFile)?.FullName ?? Environment.GetEnvironmentVariable("JITCTL_IDENTITY_FILE") ?? LoadConfig(result).IdentityFile;
        return file is null ? null
            : File.Exists(file) ? TokenInput.ReadAsync("@" + file, "--identity-file")
            : throw new UsageException($"identity file '{file}' does not exist.");
    }

    private string? ResolveIdentityCommand(ParseResult result) =>
        result.GetValue(IdentityCommand) ?? Environment.GetEnvironmentVariable("JITCTL_IDENTITY_COMMAND") ?? LoadConfig(result).IdentityCommand;

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
        var identity = ResolveAdminIdentity(result);
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
                root.TryGetProperty("identity_command", out var ic) ? ic.GetString() : null,
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

    private sealed record CliConfig(string? Broker = null, string? AdminEndpoint = null, string? IdentityFile = null, string? IdentityCommand = null,
        int? Timeout = null,
        string? AdminClientCert = null, string? AdminClientKey = null, string? AdminCa = null);
}

internal sealed class UsageException(string message) : Exception(message);
