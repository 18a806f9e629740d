using Microsoft.Extensions.Time.Testing;

namespace JitBroker.Testing;

/// <summary>
/// Where the tests' fake clocks start. Microsoft.Extensions.TimeProvider.Testing's
/// <see cref="FakeTimeProvider"/> defaults to 2000-01-01, which is before every certificate, key and
/// token the tests build; a realistic date keeps "not yet valid" and "expired" checks honest.
/// </summary>
public static class TestClock
{
    public static readonly DateTimeOffset Start = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>A fresh fake clock at <see cref="Start"/>.</summary>
    public static FakeTimeProvider Create() => new(Start);
}
