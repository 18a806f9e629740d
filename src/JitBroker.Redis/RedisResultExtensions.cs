using System.Globalization;
using StackExchange.Redis;

namespace JitBroker.Redis;

/// <summary>Short, RESP2-shaped readers for <see cref="RedisResult"/>, so decoding code reads the same everywhere.</summary>
public static class RedisResultExtensions
{
    /// <summary>Items of an array reply; an empty array for a null reply.</summary>
    public static RedisResult[] AsArray(this RedisResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.IsNull ? [] : (RedisResult[])result!;
    }

    /// <summary>Text of a string reply (UTF-8), the decimal form of an integer, or null for a null reply.</summary>
    public static string? AsString(this RedisResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.IsNull ? null : (string?)result;
    }

    /// <summary>Bytes of a string reply, or null for a null reply.</summary>
    public static byte[]? AsBytes(this RedisResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.IsNull ? null : (byte[]?)result;
    }

    /// <summary>An integer reply, or a string holding a decimal integer (as Lua returns numbers as strings).</summary>
    public static long AsInt64(this RedisResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.Resp2Type == ResultType.Integer
            ? (long)result
            : long.Parse(result.AsString() ?? throw new InvalidCastException("A null reply is not an integer."), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
    }
}
