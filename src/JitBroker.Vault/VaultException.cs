using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace JitBroker.Vault;

/// <summary>What a failed Vault call means for the caller.</summary>
public enum VaultErrorKind
{
    /// <summary>
    /// Retryable: Vault or the path to it is down, sealed, a standby, rate limiting (429), not yet consistent (412),
    /// its backend failed (502), 5xx, timeout, connection refused or reset. The agent sees UNAVAILABLE.
    /// </summary>
    Unavailable,
    /// <summary>403: the broker's token lacks permission or is no longer valid. Operator-actionable.</summary>
    PermissionDenied,
    /// <summary>400: Vault rejected the request (bad role, bad parameters, unknown accessor…).</summary>
    InvalidRequest,
    /// <summary>404: the path does not exist — or, for some endpoints, the caller may not see it (api-docs/index.mdx).</summary>
    NotFound,
    /// <summary>405: wrong method for the path (a mount of a different type is at that path).</summary>
    UnsupportedOperation,
    /// <summary>The broker could not log in to Vault (bad or missing credentials, unknown role).</summary>
    LoginFailed,
    /// <summary>Vault answered something this client does not understand (malformed JSON, missing fields).</summary>
    UnexpectedResponse,
}

/// <summary>
/// A failed Vault call. The message names the method, the path and Vault's own error strings (redacted of anything
/// token-shaped and bounded in length); it never contains a token, a request body or secret data, so it is safe to
/// log and to store as a lease's last error.
/// </summary>
public sealed partial class VaultException : Exception
{
    private const int MaxVaultErrorText = 300;

    public VaultException(VaultErrorKind kind, string operation, int? statusCode, IReadOnlyList<string> vaultErrors, string? detail = null, Exception? inner = null)
        : base(Describe(kind, operation, statusCode, vaultErrors, detail), inner)
    {
        Kind = kind;
        Operation = operation;
        StatusCode = statusCode;
        VaultErrors = vaultErrors;
    }

    public VaultErrorKind Kind { get; }

    /// <summary>Method and path, for example <c>POST auth/token/create</c>.</summary>
    public string Operation { get; }

    /// <summary>HTTP status, or null when no response arrived (timeout, connection failure).</summary>
    public int? StatusCode { get; }

    /// <summary>Vault's <c>errors</c> array, sanitized.</summary>
    public IReadOnlyList<string> VaultErrors { get; }

    public bool IsRetryable => Kind == VaultErrorKind.Unavailable;

    /// <summary>True when any of Vault's error strings contains <paramref name="text"/> (case-insensitive).</summary>
    public bool VaultSaid(string text) => VaultErrors.Any(e => e.Contains(text, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Classifies a status code. See api-docs/index.mdx "HTTP status codes": 412 is "retry with a little backoff";
    /// 429 is a standby's health code and the rate-limit quota code; 472/473 are DR-secondary and performance-standby
    /// codes; 501 is "not initialized"; 502 means Vault's upstream failed; 503 is sealed or in maintenance.
    /// </summary>
    public static VaultErrorKind Classify(int statusCode) => statusCode switch
    {
        400 => VaultErrorKind.InvalidRequest,
        403 => VaultErrorKind.PermissionDenied,
        404 => VaultErrorKind.NotFound,
        405 => VaultErrorKind.UnsupportedOperation,
        408 or 412 or 429 or 472 or 473 => VaultErrorKind.Unavailable,
        >= 500 => VaultErrorKind.Unavailable,
        _ => VaultErrorKind.UnexpectedResponse,
    };

    /// <summary>Makes one of Vault's error strings safe to log: token-shaped words redacted, control characters and length bounded.</summary>
    public static string Sanitize(string text)
    {
        var redacted = TokenShaped().Replace(text, "[redacted]");
        var builder = new StringBuilder(Math.Min(redacted.Length, MaxVaultErrorText));
        foreach (var c in redacted)
        {
            if (builder.Length >= MaxVaultErrorText)
            {
                builder.Append('…');
                break;
            }

            builder.Append(char.IsControl(c) ? ' ' : c);
        }

        return builder.ToString().Trim();
    }

    private static string Describe(VaultErrorKind kind, string operation, int? statusCode, IReadOnlyList<string> errors, string? detail)
    {
        var status = statusCode is { } code ? $"{code} {(HttpStatusCode)code}" : "no response";
        var text = $"Vault {operation} failed ({status}, {kind})";
        if (errors.Count > 0)
        {
            text += ": " + string.Join("; ", errors);
        }

        return detail is null ? text : $"{text}. {detail}";
    }

    // Vault service/batch tokens (hvs., hvb., s., b. + base62) and legacy UUID-shaped tokens. Accessors look like
    // tokens too; redacting one in an error string costs nothing. The hv?. form needs no word boundary, so a token glued
    // to a word ("tokenhvs.…") is redacted as well.
    [GeneratedRegex(@"(?:hv[sbr]\.|\b[sb]\.)[A-Za-z0-9_\-.]{8,}|\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")]
    private static partial Regex TokenShaped();
}
