using System.Buffers;

namespace JitBroker.Vault;

/// <summary>
/// Checks on Vault API paths that come from configuration or policy templates, before they are put into a URL.
/// A path that could escape its mount (<c>..</c>), carry a query or fragment, or start at the root is refused.
/// </summary>
public static class VaultPaths
{
    // Vault paths in practice: mount and role names, lease ids (which contain '/' and '.'), '@' and ':' for some
    // engines. Nothing that URL parsing would reinterpret ('?', '#', '%', '\', whitespace).
    private static readonly SearchValues<char> Allowed = SearchValues.Create(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./@:=+");

    /// <summary>Longest path accepted (Vault itself has no documented limit; this only bounds junk).</summary>
    public const int MaxLength = 512;

    /// <summary>True for a non-empty relative path of allowed characters with no empty, <c>.</c> or <c>..</c> segment.</summary>
    public static bool IsWellFormed(string? path)
    {
        if (string.IsNullOrEmpty(path) || path.Length > MaxLength || path.AsSpan().IndexOfAnyExcept(Allowed) >= 0)
        {
            return false;
        }

        foreach (var segment in path.Split('/'))
        {
            if (segment.Length == 0 || segment == "." || segment == "..")
            {
                return false;
            }
        }

        // Vault answers 404 "unsupported path" for a path parameter ending in a period (api-docs/index.mdx,
        // "Parameter restrictions"); refuse it up front with a clearer error.
        return !path.EndsWith('.');
    }

    /// <summary>
    /// True when <paramref name="path"/> is under one of <paramref name="prefixes"/>. A prefix ending in '/' matches
    /// whole segments (<c>database/creds/</c> does not admit <c>database/credsX</c>); one without matches exactly.
    /// </summary>
    public static bool IsAllowed(string path, IEnumerable<string> prefixes)
    {
        foreach (var prefix in prefixes)
        {
            if (prefix.Length == 0)
            {
                continue;
            }

            var matches = prefix.EndsWith('/')
                ? path.StartsWith(prefix, StringComparison.Ordinal) && path.Length > prefix.Length
                : string.Equals(path, prefix, StringComparison.Ordinal);
            if (matches)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// True when <paramref name="leaseId"/> is a Vault lease id the broker could have obtained by reading under one of
    /// <paramref name="prefixes"/>: Vault names a lease <c>&lt;read path&gt;/&lt;random&gt;</c>, so the id lies strictly
    /// below the prefix (a prefix without a trailing '/' is an exact read path, its leases below it).
    /// </summary>
    public static bool IsLeaseUnder(string leaseId, IEnumerable<string> prefixes)
    {
        if (!IsWellFormed(leaseId))
        {
            return false;
        }

        foreach (var prefix in prefixes)
        {
            if (prefix.Length == 0)
            {
                continue;
            }

            var below = prefix.EndsWith('/') ? prefix : prefix + "/";
            if (leaseId.StartsWith(below, StringComparison.Ordinal) && leaseId.Length > below.Length)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Token role names: what Vault's role paths accept, conservatively.</summary>
    public static bool IsRoleName(string? role) =>
        !string.IsNullOrEmpty(role) && role.Length <= 128 && !role.Contains('/', StringComparison.Ordinal) && IsWellFormed(role);
}
