namespace JitBroker.OAuth;

/// <summary>
/// A refusal in protocol terms: <see cref="Error"/> is the RFC 6749 §5.2 <c>error</c>, <see cref="Reason"/> our stable
/// reason code (<see cref="OAuthReasons"/>), <see cref="Description"/> safe to send as <c>error_description</c>.
/// </summary>
/// <remarks>
/// The description is sanitised here, once, so no caller can echo attacker-controlled bytes into a response:
/// RFC 6749 §5.2 restricts it to %x20-21 / %x23-5B / %x5D-7E, anything else becomes '?', and it is capped in length.
/// </remarks>
public sealed class OAuthProtocolException : Exception
{
    internal const int MaxDescriptionLength = 256;

    public OAuthProtocolException(string error, string reason, string description)
        : base(Sanitise(description))
    {
        Error = error;
        Reason = reason;
        Description = Message;
    }

    /// <summary>The RFC 6749 §5.2 error code, one of <see cref="OAuthErrors"/>.</summary>
    public string Error { get; }

    /// <summary>Our stable reason code ("oauth.…", "dpop.…"), for logs, audit and the <c>jitbroker-reason</c> header.</summary>
    public string Reason { get; }

    /// <summary>Human-readable, within the error_description character set; never contains a token or key.</summary>
    public string Description { get; }

    internal static string Sanitise(string description)
    {
        var length = Math.Min(description.Length, MaxDescriptionLength);
        return string.Create(length, description, static (span, source) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                var c = source[i];
                span[i] = c is (>= '\x20' and <= '\x21') or (>= '\x23' and <= '\x5B') or (>= '\x5D' and <= '\x7E') ? c : '?';
            }
        });
    }
}
