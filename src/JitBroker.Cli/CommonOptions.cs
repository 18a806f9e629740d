using System.CommandLine;

namespace JitBroker.Cli;

/// <summary>Connection and output options shared by every broker command (flags win over environment).</summary>
internal sealed class CommonOptions
{
    public Option<string> Broker { get; } = new("--broker")
    {
        Description = "Broker gRPC address (env JITCTL_BROKER).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("JITCTL_BROKER") ?? "http://127.0.0.1:50051",
    };

    public Option<string?> Identity { get; } = new("--identity")
    {
        Description = "Caller identity token, e.g. a JWT-SVID (env JITCTL_IDENTITY).",
    };

    public Option<FileInfo?> IdentityFile { get; } = new("--identity-file")
    {
        Description = "File holding the caller identity token (env JITCTL_IDENTITY_FILE).",
    };

    public Option<bool> Json { get; } = new("--json") { Description = "Print JSON for scripts." };

    public Option<int> TimeoutSeconds { get; } = new("--timeout")
    {
        Description = "Deadline for the call, in seconds.",
        DefaultValueFactory = _ => 10,
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Broker);
        command.Options.Add(Identity);
        command.Options.Add(IdentityFile);
        command.Options.Add(Json);
        command.Options.Add(TimeoutSeconds);
    }

    public string ResolveIdentity(ParseResult result)
    {
        var token = result.GetValue(Identity) ?? Environment.GetEnvironmentVariable("JITCTL_IDENTITY");
        var file = result.GetValue(IdentityFile)?.FullName ?? Environment.GetEnvironmentVariable("JITCTL_IDENTITY_FILE");
        if (token is null && file is not null)
        {
            token = File.ReadAllText(file).Trim();
        }

        return string.IsNullOrWhiteSpace(token)
            ? throw new UsageException("no caller identity: pass --identity, --identity-file, or set JITCTL_IDENTITY.")
            : token;
    }

    public BrokerClient CreateClient(ParseResult result)
    {
        var address = result.GetValue(Broker)!;
        return Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? new BrokerClient(uri)
            : throw new UsageException($"--broker '{address}' is not an http(s) URL.");
    }

    public TimeSpan Timeout(ParseResult result) => TimeSpan.FromSeconds(Math.Max(1, result.GetValue(TimeoutSeconds)));
}

internal sealed class UsageException(string message) : Exception(message);
