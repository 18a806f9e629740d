using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using JitBroker.Cli;
using NUnit.Framework;

namespace JitBroker.Server.Tests;

/// <summary>
/// <c>jitctl verify</c> refuses anything that is not a three-segment compact JWS before it fetches the JWKS
/// and before IdentityModel parses the token: a JWE (five segments) never reaches the library
/// (CVE-2024-21319 was a JWE denial of service in IdentityModel 6.x).
/// </summary>
public sealed class JitctlVerifyShapeTests
{
    private const string Jwe = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00iLCJ6aXAiOiJERUYifQ.a2V5.aXY.Y2lwaGVy.dGFn";

    [TestCase(Jwe, "JWE")]
    [TestCase("eyJhbGciOiJFUzI1NiJ9.e30.c2ln.eHg", "three dot-separated segments")]
    [TestCase("eyJhbGciOiJFUzI1NiJ9.e30", "three dot-separated segments")]
    [TestCase("eyJhbGciOiJFUzI1NiJ9.e30=.c2ln", "base64url")]
    [TestCase("eyJhbGciOiJFUzI1NiJ9.e3é.c2ln", "base64url")]
    public void Shape_other_than_a_compact_JWS_is_named(string token, string problem) =>
        Assert.That(VerifyCommand.ShapeProblem(token), Does.Contain(problem));

    [Test]
    public void A_compact_JWS_shape_passes_to_the_library() =>
        Assert.That(VerifyCommand.ShapeProblem("eyJhbGciOiJFUzI1NiJ9.e30.c2ln"), Is.Null);

    [Test]
    public async Task Five_segment_token_is_refused_without_fetching_the_jwks()
    {
        using var jwksServer = new TcpListener(IPAddress.Loopback, 0);
        jwksServer.Start();
        var jwks = $"http://127.0.0.1:{((IPEndPoint)jwksServer.LocalEndpoint).Port}/.well-known/jwks.json";

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(TestContext.CurrentContext.TestDirectory, "jitctl.dll"), "verify", "--jwks", jwks, "--audience", "https://tickets.example", "--credential", Jwe })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Multiple(async () =>
        {
            Assert.That(process.ExitCode, Is.EqualTo(ExitCodes.Negative), await stderr);
            Assert.That(await stdout, Does.Contain("invalid: encrypted token (JWE, five segments) refused"));
            Assert.That(jwksServer.Pending(), Is.False, "the JWKS was not even fetched");
        });
    }
}
