namespace JitBroker.ToolGuard;

/// <summary>
/// Credentials known to be revoked, by jti (the lease id). Introspection marks what the broker answered inactive; a
/// push receiver (issue 20: the broker's revocation events) calls <see cref="Revoke"/> so the next call is refused
/// without waiting for the introspection cache.
/// </summary>
public interface IRevocationSignal
{
    /// <summary>Refuse <paramref name="jti"/> from now until <paramref name="until"/> (the token's exp is enough).</summary>
    void Revoke(string jti, DateTimeOffset until);

    bool IsRevoked(string jti);
}

/// <summary>Bounded in-memory revocation list; when full, expired entries are swept and then the oldest expiry is evicted.</summary>
internal sealed class RevocationSignal(TimeProvider time) : IRevocationSignal
{
    public const int Capacity = 100_000;
    private readonly CountedMap<DateTimeOffset> _revoked = new();

    public void Revoke(string jti, DateTimeOffset until)
    {
        if (_revoked.Count >= Capacity)
        {
            var now = time.GetUtcNow();
            _revoked.RemoveWhere(expiry => expiry < now);

            // Still full: the entry closest to expiry goes. Introspection still refuses it; only the shortcut is lost.
            if (_revoked.Count >= Capacity)
            {
                _revoked.RemoveLeast(expiry => expiry);
            }
        }

        _revoked.Set(jti, until);
    }

    public bool IsRevoked(string jti) => _revoked.TryGetValue(jti, out var until) && until >= time.GetUtcNow();
}
