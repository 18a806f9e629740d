using Microsoft.Extensions.Logging;

namespace JitBroker.Wire.Tests.Infrastructure;

/// <summary>
/// Shared checks for tests against <see cref="WireTestServer"/>: every test starts with clean logs and
/// service state, and ends by asserting the server logged no unhandled exception (Kestrel's
/// "ApplicationError") and, unless the test expects it, no handler failure.
/// </summary>
public abstract class ServerTestBase
{
    private protected static TestService Service => WireTestServer.Service;

    private protected static CapturingLoggerProvider Logs => WireTestServer.Logs;

    /// <summary>Set by a test that makes a handler throw on purpose.</summary>
    private protected bool ExpectHandlerFailure { get; set; }

    [SetUp]
    public void ResetServerState()
    {
        ExpectHandlerFailure = false;
        Service.Reset();
        Logs.Clear();
    }

    [TearDown]
    public void ServerLoggedNoUnexpectedErrors()
    {
        Service.BlockRelease.TrySetResult();
        var errors = Logs.Entries
            .Where(e => e.Level >= LogLevel.Error)
            .Where(e => !(ExpectHandlerFailure && e.EventId.Name == "GrpcHandlerFailed"))
            .Select(e => $"{e.Category} {e.EventId.Name}: {e.Message} {e.Exception}")
            .ToList();
        Assert.That(errors, Is.Empty, "the server logged unexpected errors");
    }
}
