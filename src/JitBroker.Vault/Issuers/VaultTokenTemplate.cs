using System.Buffers;
using System.Globalization;
using System.Text;
using JitBroker.Core;

namespace JitBroker.Vault.Issuers;

/// <summary>The vault-token parameters of a credential template (<see cref="Grant.IssuerParameters"/>), checked.</summary>
internal sealed record VaultTokenTemplate(string? Role, IReadOnlyList<string> Policies, bool Renewable, int? NumUses)
{
    private static readonly HashSet<string> Known = new(StringComparer.Ordinal)
    {
        IssuerParameterNames.VaultRole, IssuerParameterNames.VaultPolicies, IssuerParameterNames.VaultRenewable, IssuerParameterNames.VaultNumUses,
    };

    // Vault policy names as its sys/policy API accepts them in practice; anything else is a template typo.
    private static readonly SearchValues<char> PolicyChars = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@");

    public static VaultTokenTemplate Parse(IReadOnlyDictionary<string, string> parameters)
    {
        var unknown = parameters.Keys.Where(k => !Known.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw VaultFailures.TemplateInvalid($"vault-token templates do not take parameter(s) {string.Join(", ", unknown.Select(u => $"'{u}'"))}.");
        }

        string? role = null;
        if (parameters.TryGetValue(IssuerParameterNames.VaultRole, out var r) && !string.IsNullOrWhiteSpace(r))
        {
            role = r.Trim();
            if (!VaultPaths.IsRoleName(role))
            {
                throw VaultFailures.TemplateInvalid($"vault-token role '{role}' is not a valid token role name.");
            }
        }

        var policies = parameters.TryGetValue(IssuerParameterNames.VaultPolicies, out var p)
            ? p.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).ToList()
            : [];
        foreach (var policy in policies)
        {
            if (policy.Length > 128 || policy.AsSpan().IndexOfAnyExcept(PolicyChars) >= 0)
            {
                throw VaultFailures.TemplateInvalid($"vault-token policy '{policy}' is not a valid policy name.");
            }

            // A task credential must never carry root, whatever the broker's own token could grant.
            if (string.Equals(policy, "root", StringComparison.OrdinalIgnoreCase))
            {
                throw VaultFailures.TemplateInvalid("vault-token templates may not grant the 'root' policy.");
            }
        }

        if (policies.Count == 0 && role is null)
        {
            // Without policies Vault would copy every policy of the broker's own token onto the child.
            throw VaultFailures.TemplateInvalid("vault-token templates need 'policies' (or a token 'role' that sets them).");
        }

        var renewable = false;
        if (parameters.TryGetValue(IssuerParameterNames.VaultRenewable, out var renew) && !bool.TryParse(renew.Trim(), out renewable))
        {
            throw VaultFailures.TemplateInvalid("vault-token 'renewable' must be true or false.");
        }

        int? numUses = null;
        if (parameters.TryGetValue(IssuerParameterNames.VaultNumUses, out var uses))
        {
            if (!int.TryParse(uses.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1)
            {
                throw VaultFailures.TemplateInvalid("vault-token 'num_uses' must be an integer of at least 1.");
            }

            numUses = n;
        }

        return new VaultTokenTemplate(role, policies, renewable, numUses);
    }

    /// <summary>
    /// A display name Vault keeps as is: Vault prefixes "token-" and replaces anything outside [a-zA-Z0-9-] with '-'
    /// (vault/token_store.go, displayNameSanitize); doing it here keeps the name predictable and short.
    /// </summary>
    public static string DisplayNameFor(string taskId)
    {
        const int MaxTaskPart = 40;
        var builder = new StringBuilder("jitbroker-", 10 + MaxTaskPart);
        foreach (var c in taskId)
        {
            if (builder.Length >= 10 + MaxTaskPart)
            {
                break;
            }

            var keep = char.IsAsciiLetterOrDigit(c) ? c : '-';
            if (keep != '-' || builder[^1] != '-')
            {
                builder.Append(keep);
            }
        }

        return builder.ToString().TrimEnd('-');
    }

    /// <summary>
    /// Token metadata values, bounded: Vault documents no limit on <c>meta</c>, but it is copied into every audit
    /// entry the token produces, and agent ids (SPIFFE IDs) may be up to 2048 bytes. A long value keeps its head and
    /// gains the SHA-256 fingerprint of the whole, so audit entries still correlate exactly.
    /// </summary>
    public static string BoundMetaValue(string value)
    {
        const int Max = 512;
        if (value.Length <= Max)
        {
            return value;
        }

        var fingerprint = Fingerprints.Of(value);
        return string.Concat(value.AsSpan(0, Max - fingerprint.Length - 1), "~", fingerprint);
    }
}
