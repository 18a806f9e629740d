using System.Security.Cryptography;
using System.Text;

namespace JitBroker.Redis;

/// <summary>
/// A Lua script, the unit of every multi-key change. Sent by its SHA-1 (<c>EVALSHA</c>) and re-sent with
/// <c>EVAL</c> when the server lost its script cache (restart, failover, <c>SCRIPT FLUSH</c>). Create each
/// script once (a static field) so its text is encoded and hashed once.
/// </summary>
public sealed class LuaScript
{
    public LuaScript(string source)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        Source = source;
        // SHA-1 is not used for security here: it is the script id Redis itself defines for EVALSHA.
#pragma warning disable CA5350
        Sha1Bytes = SHA1.HashData(Encoding.UTF8.GetBytes(source));
#pragma warning restore CA5350
        Sha1 = Convert.ToHexStringLower(Sha1Bytes);
    }

    public string Source { get; }

    /// <summary>Lowercase hex SHA-1 of the UTF-8 source, as <c>SCRIPT LOAD</c> returns it.</summary>
    public string Sha1 { get; }

    internal byte[] Sha1Bytes { get; }

    public override string ToString() => "LuaScript(" + Sha1 + ")";
}
