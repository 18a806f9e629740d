using System.Security.Cryptography;
using System.Text;

namespace JitBroker.Redis;

/// <summary>
/// A Lua script sent with <c>EVALSHA</c> by its SHA-1 and re-sent with <c>EVAL</c> (which also caches it on the
/// server) when the server answers <c>NOSCRIPT</c>, after a restart, failover or <c>SCRIPT FLUSH</c>. Create
/// each script once (a static field) so its text is encoded and hashed once.
/// </summary>
public sealed class LuaScript
{
    public LuaScript(string source)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        Source = source;
        SourceBytes = Encoding.UTF8.GetBytes(source);
        // SHA-1 is not used for security here: it is the script id Redis itself defines for EVALSHA.
#pragma warning disable CA5350
        Sha1 = Convert.ToHexStringLower(SHA1.HashData(SourceBytes));
#pragma warning restore CA5350
        Sha1Bytes = Encoding.ASCII.GetBytes(Sha1);
    }

    public string Source { get; }

    /// <summary>Lowercase hex SHA-1 of the UTF-8 source, as <c>SCRIPT LOAD</c> returns it.</summary>
    public string Sha1 { get; }

    internal byte[] SourceBytes { get; }

    internal byte[] Sha1Bytes { get; }

    public override string ToString() => "LuaScript(" + Sha1 + ")";
}
