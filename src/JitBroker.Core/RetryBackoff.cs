namespace JitBroker.Core;

/// <summary>
/// Capped exponential backoff with jitter for revocation retries. There is deliberately no attempt
/// limit: a credential that could not be revoked stays scheduled until it is.
/// </summary>
public sealed class RetryBackoff
{
    private readonly TimeSpan _initial;
    private readonly TimeSpan _cap;
    private readonly Func<double> _random;

    public RetryBackoff(TimeSpan initial, TimeSpan cap, Func<double>? random = null)
    {
        if (initial <= TimeSpan.Zero || cap < initial)
        {
            throw new ArgumentException("Backoff needs 0 < initial <= cap.");
        }

        _initial = initial;
        _cap = cap;
        _random = random ?? Random.Shared.NextDouble;
    }

    /// <summary>
    /// Delay before attempt number <paramref name="attempt"/> (1 = first retry). "Equal jitter": half the
    /// exponential step fixed, half random, so retries spread out but never collapse to zero.
    /// </summary>
    public TimeSpan DelayFor(int attempt)
    {
        var exponent = Math.Clamp(attempt - 1, 0, 30);
        var step = Math.Min(_cap.TotalMilliseconds, _initial.TotalMilliseconds * Math.Pow(2, exponent));
        return TimeSpan.FromMilliseconds((step / 2) + (_random() * step / 2));
    }
}
