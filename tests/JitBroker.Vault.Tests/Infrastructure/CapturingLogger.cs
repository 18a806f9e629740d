using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace JitBroker.Vault.Tests.Infrastructure;

/// <summary>Collects every log line (formatted message plus the full exception text) so tests can assert what never appears.</summary>
public sealed class CapturingLogs : ILoggerFactory
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public string All => string.Join("\n", Lines);

    public ILogger<T> For<T>() => new Logger<T>(this);

    public ILogger CreateLogger(string categoryName) => new Sink(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Sink(CapturingLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            // Structured values too: a secret passed as a log argument must be caught even if the template hides it.
            var values = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(" ", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
            owner.Lines.Enqueue($"{logLevel} {category} [{eventId.Name}] {formatter(state, exception)} {values} {exception}");
        }
    }
}
