using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace JitBroker.ToolGuard.Tests.Support;

/// <summary>Keeps every log record of a host (event id, level, formatted message) for assertions.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    public ConcurrentQueue<(EventId Id, LogLevel Level, string Message)> Records { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs logs) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            logs.Records.Enqueue((eventId, logLevel, formatter(state, exception)));
    }
}
