using System.Diagnostics;
using NUnit.Framework;

namespace JitBroker.Console.Tests.InBrowser;

/// <summary>
/// npm's oidc-provider (tests/interop-node/idp.mjs) as the organisation's OpenID provider: a separate node process on a
/// loopback port of its own, knowing alice (approvers), olga (operators), owen (approvers; owner of the approval rule)
/// and mallory (no group). It ends when this object is disposed (its stdin closes) or, failing that, is killed.
/// </summary>
public sealed class IdentityProvider : IAsyncDisposable
{
    public const string ClientId = "jitbroker-console";

    private readonly Process _process;
    private readonly Task<string> _stderr;

    private IdentityProvider(Process process, Uri issuer, Task<string> stderr)
    {
        _process = process;
        Issuer = issuer;
        _stderr = stderr;
    }

    /// <summary>The issuer, <c>http://127.0.0.1:port</c> (no trailing slash in the provider's own spelling).</summary>
    public Uri Issuer { get; }

    /// <summary>The issuer string exactly as the provider writes it in tokens (<c>iss</c>).</summary>
    public string IssuerName => Issuer.GetLeftPart(UriPartial.Authority);

    /// <summary>Starts the provider for one confidential client whose only redirect URI is <paramref name="redirectUri"/>.</summary>
    public static async Task<IdentityProvider> StartAsync(Uri redirectUri, string clientSecret)
    {
        var folder = InteropNodeFolder;
        Assert.That(Path.Exists(Path.Combine(folder, "node_modules", "oidc-provider")), Is.True, $"run `npm ci` in {folder} (scripts/test.sh does)");
        var start = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, WorkingDirectory = folder,
        };
        foreach (var a in new[] { "idp.mjs", "--redirect", redirectUri.ToString(), "--client-id", ClientId, "--client-secret-env", "IDP_CLIENT_SECRET" })
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["IDP_CLIENT_SECRET"] = clientSecret; // in the environment, never on a command line
        var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start node");
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith("ready ", StringComparison.Ordinal))
                {
                    return new IdentityProvider(process, new Uri(line["ready ".Length..]), stderr);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Reported below with whatever the provider said.
        }

        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
        Assert.Fail($"oidc-provider did not start: {await stderr}");
        throw new UnreachableException();
    }

    private static string InteropNodeFolder =>
        Path.GetFullPath(Path.Combine(TestContext.CurrentContext.TestDirectory, "../../../../interop-node"));

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _ = await _stderr;
        _process.Dispose();
    }
}
