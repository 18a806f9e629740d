using System.Buffers;
using System.Globalization;
using System.Text;
using JitBroker.Core;
using JitBroker.Redis;
using StackExchange.Redis;

namespace JitBroker.Leases.Redis;

/// <summary>
/// A lease as a compact Redis hash: one- or two-letter field names, times as Unix milliseconds, lists joined
/// with U+001F, optional fields left out, the SHA-256 fingerprint as its 32 raw bytes, and the backend handle
/// omitted when it equals the lease id (the built-in JWT issuer's <c>jti</c>). Small values keep the hash in
/// Redis' listpack encoding (see docs/redis.md, "Memory").
/// </summary>
internal static class LeaseCodec
{
    public const char ListSeparator = '\u001f';
    public const string FingerprintDigest = "f";
    public const string FingerprintText = "fx";

    /// <summary>The MAC binding the backend handle to its lease id and issuer kind (<see cref="StateMac"/>).</summary>
    public const string HandleMac = "hm";

    /// <summary>The <see cref="StateMac"/> purpose of <see cref="HandleMac"/>.</summary>
    public const string HandleMacPurpose = "lease-handle";

    /// <summary>
    /// The purpose of <see cref="HandleMac"/> for a bound lease: the MAC then covers the binding too, so a Redis writer can
    /// neither swap it (the tag stops matching) nor strip it (the tag no longer verifies under <see cref="HandleMacPurpose"/>).
    /// </summary>
    public const string BoundHandleMacPurpose = "lease-handle-bound";

    /// <summary><see cref="Lease.ProofKeyThumbprint"/> (<c>cnf.jkt</c>), left out when unbound.</summary>
    public const string ProofKeyThumbprint = "cj";

    /// <summary><see cref="Lease.CertificateThumbprint"/> (<c>cnf.x5t#S256</c>), left out when unbound.</summary>
    public const string CertificateThumbprint = "cx";
    private const string Sha256Prefix = "sha256:";

    /// <summary><see cref="Lease.Owner"/>, left out when the granting rule names none.</summary>
    public const string Owner = "ow";

    /// <summary>
    /// The hash fields of a new lease, as alternating names and values, after <paramref name="reserved"/> empty slots the
    /// caller fills (a script's leading arguments) — all but the five the Put script writes from those leading arguments
    /// (<c>t</c> task, <c>a</c> agent, <c>e</c> and <c>d</c> the expiry, <c>s</c> 0 active; see <see cref="LeaseScripts.Put"/>),
    /// so they are not sent twice. Sized exactly: it is sent as is, on every lease write.
    /// </summary>
    public static RedisValue[] ToFields(Lease lease, StateMac mac, int reserved = 0)
    {
        var handle = string.Equals(lease.BackendHandle, lease.LeaseId, StringComparison.Ordinal) ? null : lease.BackendHandle;

        // Someone who can write Redis must not be able to point this lease at another credential (another service's
        // Vault accessor or lease): revocation would then hit that one and leave this one alive. Nor may they unbind or
        // rebind its credential: renewal re-issues with the binding stored here.
        var handleMac = SignHandle(mac, lease.LeaseId, lease.IssuerKind, lease.BackendHandle, lease.ProofKeyThumbprint, lease.CertificateThumbprint);
        var tools = Joined(lease.Scope.Tools);
        var resources = Joined(lease.Scope.Resources);
        var rules = Joined(lease.RuleIds);
        var facts = JoinedFacts(lease.AgentFacts);
        var intent = lease.DecidedIntent.IsEmpty ? null : DecidedIntentCodec.Encode(lease.DecidedIntent);
        var (fingerprintName, fingerprint) = Fingerprint(lease.CredentialFingerprint);

        // Four fixed fields, the MAC and the fingerprint, then each optional one that is there.
        var fields = new RedisValue[reserved + 2 * (6 + Present(lease.ParentLeaseId, lease.Owner, handle, lease.ProofKeyThumbprint,
            lease.CertificateThumbprint, tools, resources, rules, facts, intent))];
        var at = reserved;
        Add("k", lease.IssuerKind);
        Add("au", lease.Scope.Audience);
        Add("ac", lease.Scope.Action);
        Add("i", Ms(lease.IssuedAt));
        AddIfAny("p", lease.ParentLeaseId);
        // Shown to operators (jitctl leases/agents), never acted on, so not under the MAC: the audit record of the
        // issuance holds the owner in the signed chain.
        AddIfAny(Owner, lease.Owner);
        AddIfAny("h", handle);
        AddIfAny(ProofKeyThumbprint, lease.ProofKeyThumbprint);
        AddIfAny(CertificateThumbprint, lease.CertificateThumbprint);
        Add(HandleMac, handleMac);
        AddIfAny("to", tools);
        AddIfAny("r", resources);
        AddIfAny("ru", rules);
        AddBytesIfAny("af", facts);
        AddIfAny(DecidedIntentCodec.Field, intent);
        Add(fingerprintName, fingerprint);
        return fields;

        void Add(string name, RedisValue value)
        {
            fields[at++] = name;
            fields[at++] = value;
        }

        void AddIfAny(string name, string? value)
        {
            if (value is not null)
            {
                Add(name, value);
            }
        }

        void AddBytesIfAny(string name, byte[]? value)
        {
            if (value is not null)
            {
                Add(name, value);
            }
        }
    }

    /// <summary>The field and value holding <paramref name="fingerprint"/>: raw digest bytes when it is <c>sha256:&lt;64 hex&gt;</c>.</summary>
    public static (string Field, RedisValue Value) Fingerprint(string fingerprint)
    {
        if (fingerprint.Length == Sha256Prefix.Length + 64 && fingerprint.StartsWith(Sha256Prefix, StringComparison.Ordinal))
        {
            var hex = fingerprint.AsSpan(Sha256Prefix.Length);
            if (IsLowerHex(hex))
            {
                return (FingerprintDigest, Convert.FromHexString(hex));
            }
        }

        return (FingerprintText, fingerprint);
    }

    /// <summary>Rebuilds a lease from HGETALL's alternating names and values.</summary>
    public static Lease FromFields(string leaseId, RedisResult[] flat, StateMac mac)
    {
        var f = new Dictionary<string, RedisResult>(flat.Length / 2, StringComparer.Ordinal);
        for (var i = 0; i + 1 < flat.Length; i += 2)
        {
            f[flat[i].AsString()!] = flat[i + 1];
        }

        string Text(string name) => f.TryGetValue(name, out var v) ? v.AsString()! : throw Corrupt(leaseId, name);
        string? Optional(string name) => f.TryGetValue(name, out var v) ? v.AsString() : null;
        DateTimeOffset Time(string name) => DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(Text(name), CultureInfo.InvariantCulture));
        DateTimeOffset? OptionalTime(string name) => f.ContainsKey(name) ? Time(name) : null;
        IReadOnlyList<string> List(string name) => f.TryGetValue(name, out var v) ? v.AsString()!.Split(ListSeparator) : [];

        var facts = List("af");
        var agentFacts = new Dictionary<string, string>(facts.Count / 2, StringComparer.Ordinal);
        for (var i = 0; i + 1 < facts.Count; i += 2)
        {
            agentFacts[facts[i]] = facts[i + 1];
        }

        var kind = Text("k");
        var state = (LeaseState)int.Parse(Text("s"), CultureInfo.InvariantCulture);
        var handle = Optional("h") ?? leaseId;
        var jkt = Optional(ProofKeyThumbprint);
        var x5t = Optional(CertificateThumbprint);
        return new Lease
        {
            LeaseId = leaseId,
            TaskId = Text("t"),
            AgentId = Text("a"),
            ParentLeaseId = Optional("p"),
            IssuerKind = kind,
            BackendHandle = handle,
            // Leases written before handles were authenticated have no MAC: untrusted too (docs/security.md).
            BackendHandleUntrusted = !VerifyHandle(mac, Optional(HandleMac), leaseId, kind, handle, jkt, x5t),
            ProofKeyThumbprint = jkt,
            CertificateThumbprint = x5t,
            Scope = new GrantedScope(Text("au"), Text("ac"), List("to"), List("r")),
            IssuedAt = Time("i"),
            ExpiresAt = Time("e"),
            State = state,
            Attempts = f.TryGetValue("n", out var n) ? (int)n.AsInt64() : 0,
            LastError = Optional("le"),
            RevokedAt = OptionalTime("ra"),
            // A revoked lease is never due; the mark leaves its last 'd' in place rather than spend a call deleting it.
            DueAt = state == LeaseState.Revoked ? null : OptionalTime("d"),
            RuleIds = List("ru"),
            CredentialFingerprint = f.TryGetValue(FingerprintDigest, out var digest)
                ? Sha256Prefix + Convert.ToHexStringLower(digest.AsBytes()!)
                : Text(FingerprintText),
            AgentFacts = agentFacts,
            DecidedIntent = DecidedIntentCodec.Decode(Optional(DecidedIntentCodec.Field)),
            Owner = Optional(Owner),
        };
    }

    /// <summary>Decodes a script's <c>[id, fields, id, fields, …]</c> reply, starting at <paramref name="offset"/>.</summary>
    public static List<Lease> FromPairs(RedisResult[] pairs, StateMac mac, int offset = 0)
    {
        var leases = new List<Lease>((pairs.Length - offset) / 2);
        for (var i = offset; i + 1 < pairs.Length; i += 2)
        {
            leases.Add(FromFields(pairs[i].AsString()!, pairs[i + 1].AsArray(), mac));
        }

        return leases;
    }

    public static long Ms(DateTimeOffset at) => at.ToUnixTimeMilliseconds();

    /// <summary>The tag over the handle and, for a bound lease, its binding (an unbound lease's tag is unchanged from before bindings).</summary>
    private static string SignHandle(StateMac mac, string leaseId, string kind, string handle, string? jkt, string? x5t) =>
        jkt is null && x5t is null
            ? mac.Sign(HandleMacPurpose, leaseId, kind, handle)
            : mac.Sign(BoundHandleMacPurpose, leaseId, kind, handle, jkt ?? "", x5t ?? "");

    private static bool VerifyHandle(StateMac mac, string? tag, string leaseId, string kind, string handle, string? jkt, string? x5t) =>
        jkt is null && x5t is null
            ? mac.Verify(tag, HandleMacPurpose, leaseId, kind, handle)
            : mac.Verify(tag, BoundHandleMacPurpose, leaseId, kind, handle, jkt ?? "", x5t ?? "");

    /// <summary>Values may not contain the list separator: a joined list could not be split back faithfully.</summary>
    public static void EnsureStorable(Lease lease)
    {
        // Loops, not a LINQ chain: this runs on every lease write.
        if (HoldsSeparator(lease.Scope.Tools) || HoldsSeparator(lease.Scope.Resources) || HoldsSeparator(lease.RuleIds)
            || FactsHoldSeparator(lease.AgentFacts))
        {
            throw new ArgumentException("Lease list values must not contain U+001F.", nameof(lease));
        }
    }

    private static bool HoldsSeparator(IReadOnlyList<string> values)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (HoldsSeparator(values[i]))
            {
                return true;
            }
        }

        return false;
    }

    private static bool FactsHoldSeparator(IReadOnlyDictionary<string, string> facts) => AgentFacts.AnyText(facts, static text => HoldsSeparator(text));

    private static bool HoldsSeparator(string value) => value.Contains(ListSeparator, StringComparison.Ordinal);

    private static int Present(params ReadOnlySpan<object?> values)
    {
        var count = 0;
        foreach (var value in values)
        {
            count += value is null ? 0 : 1;
        }

        return count;
    }

    /// <summary>
    /// The items joined with <see cref="ListSeparator"/> (as <see cref="string.Join(char, string[])"/>), or null for none:
    /// an empty list is left out, a present field always holds at least one item (possibly empty).
    /// </summary>
    private static string? Joined(IReadOnlyList<string> items)
    {
        switch (items.Count)
        {
            case 0:
                return null;
            case 1:
                return items[0] ?? "";
        }

        var length = items.Count - 1;
        for (var i = 0; i < items.Count; i++)
        {
            length += items[i]?.Length ?? 0;
        }

        return string.Create(length, items, static (text, items) =>
        {
            var at = 0;
            for (var i = 0; i < items.Count; i++)
            {
                if (i > 0)
                {
                    text[at++] = ListSeparator;
                }

                items[i]?.CopyTo(text[at..]);
                at += items[i]?.Length ?? 0;
            }
        });
    }

    /// <summary>
    /// The facts as one list, ordered by key (ordinal): key, value, key, value…, as UTF-8 — the bytes Redis stores for the
    /// joined text, built without the UTF-16 string in between (half the size); null for none.
    /// </summary>
    private static byte[]? JoinedFacts(IReadOnlyDictionary<string, string> facts)
    {
        if (facts.Count == 0)
        {
            return null;
        }

        // The names and values side by side in a pooled array (returned cleared): only the joined bytes outlive the call.
        var count = 2 * facts.Count;
        var rented = ArrayPool<string>.Shared.Rent(count);
        try
        {
            var flat = rented.AsSpan(0, count);
            var n = AgentFacts.CopyNames(facts, flat);

            // Keys are unique, so this unstable sort orders them as the stable OrderBy did (a cached static comparison,
            // not a delegate made from a comparer per call).
            flat[..n].Sort(string.CompareOrdinal);
            // Spread out from the end, so no key is overwritten before it has moved (key i goes to 2i, never below i).
            for (var i = n - 1; i >= 0; i--)
            {
                var key = flat[i];
                flat[2 * i] = key;
                flat[(2 * i) + 1] = facts[key];
            }

            var length = flat.Length - 1;
            foreach (var item in flat)
            {
                length += Encoding.UTF8.GetByteCount(item);
            }

            var joined = new byte[length];
            var at = 0;
            for (var i = 0; i < flat.Length; i++)
            {
                if (i > 0)
                {
                    joined[at++] = (byte)ListSeparator;
                }

                at += Encoding.UTF8.GetBytes(flat[i], joined.AsSpan(at));
            }

            return joined;
        }
        finally
        {
            ArrayPool<string>.Shared.Return(rented, clearArray: true);
        }
    }

    private static bool IsLowerHex(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }

        return true;
    }

    private static InvalidOperationException Corrupt(string leaseId, string field) =>
        new($"Lease record '{leaseId}' in Redis lacks field '{field}'.");
}
