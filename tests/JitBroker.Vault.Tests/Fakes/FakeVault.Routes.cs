using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace JitBroker.Vault.Tests.Fakes;

public sealed partial class FakeVault
{
    private async Task RouteAsync(HttpContext c, string path, JsonElement? body)
    {
        var method = c.Request.Method;
        var write = method is "POST" or "PUT";
        if (path == "sys/health" && method == "GET")
        {
            await Json(c, 200, new { initialized = true, @sealed = false, standby = false, version = "1.17.0" });
            return;
        }

        if (ExpectedNamespace is not null && c.Request.Headers["X-Vault-Namespace"].ToString() != ExpectedNamespace)
        {
            await Error(c, 403, "permission denied");
            return;
        }

        if (write && path.StartsWith("auth/", StringComparison.Ordinal) && path.EndsWith("/login", StringComparison.Ordinal))
        {
            await LoginAsync(c, path, body);
            return;
        }

        if (!Tokens.TryGetValue(c.Request.Headers["X-Vault-Token"].ToString(), out var caller) || caller.Revoked)
        {
            // What Vault 1.1x says for an unknown, expired or revoked token (one multi-line string).
            await Error(c, 403, "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n");
            return;
        }

        if (EnforcePolicies && !caller.Policies.Contains("root")
            && !caller.Policies.Any(name => PolicyDocuments.TryGetValue(name, out var doc) && doc.Allows(method, path)))
        {
            PolicyRefusals.Enqueue($"{method} {path}");
            await Error(c, 403, "1 error occurred:\n\t* permission denied\n\n");
            return;
        }

        if (DeniedPaths.Any(p => path.StartsWith(p, StringComparison.Ordinal)))
        {
            await Error(c, 403, "1 error occurred:\n\t* permission denied\n\n");
            return;
        }

        switch (path)
        {
            case "auth/token/lookup-self" when method == "GET":
                await Json(c, 200, Envelope(data: new { accessor = caller.Accessor, ttl = caller.Ttl, renewable = caller.Renewable, policies = caller.Policies, id = caller.Id }));
                return;
            case "auth/token/renew-self" when write:
                await RenewTokenAsync(c, caller, Duration(body, "increment"), echoToken: true);
                return;
            case "auth/token/create" or "auth/token/create-orphan" when write:
                await CreateTokenAsync(c, caller, body!.Value, null, path.EndsWith("orphan", StringComparison.Ordinal));
                return;
            case "auth/token/revoke-accessor" when write:
                if (TokenByAccessor(Str(body, "accessor") ?? "") is not { Revoked: false } revokee)
                {
                    await Error(c, 400, "invalid accessor");
                    return;
                }

                Revoke(revokee);
                await NoContent(c);
                return;
            case "auth/token/lookup-accessor" when write:
                if (TokenByAccessor(Str(body, "accessor") ?? "") is not { Revoked: false } looked)
                {
                    await Error(c, 400, "invalid accessor");
                    return;
                }

                // As Vault answers: the token's properties without its id.
                await Json(c, 200, Envelope(data: new Dictionary<string, object?>
                {
                    ["accessor"] = looked.Accessor, ["meta"] = looked.Meta, ["policies"] = looked.Policies, ["ttl"] = looked.Ttl,
                    ["display_name"] = looked.DisplayName, ["orphan"] = looked.Orphan, ["id"] = "",
                }));
                return;
            case "auth/token/renew-accessor" when write:
                if (TokenByAccessor(Str(body, "accessor") ?? "") is not { Revoked: false } renewee)
                {
                    await Error(c, 400, "invalid accessor");
                    return;
                }

                await RenewTokenAsync(c, renewee, Duration(body, "increment"), echoToken: false);
                return;
            case "auth/token/revoke" when write:
                if (Tokens.TryGetValue(Str(body, "token") ?? "", out var target))
                {
                    Revoke(target);
                }

                await NoContent(c);
                return;
            case "sys/leases/revoke" when write:
                await RevokeLeaseAsync(c, body);
                return;
            case "sys/leases/renew" when write:
                await RenewLeaseAsync(c, body);
                return;
        }

        // The lease id may also come in the URL (api-docs/system/leases.mdx; what Vault's own CLI sends), which lets a
        // policy limit revocation and renewal to lease-id prefixes.
        if (write && path.StartsWith("sys/leases/revoke/", StringComparison.Ordinal))
        {
            await RevokeLeaseAsync(c, body, path["sys/leases/revoke/".Length..]);
            return;
        }

        if (write && path.StartsWith("sys/leases/renew/", StringComparison.Ordinal))
        {
            await RenewLeaseAsync(c, body, path["sys/leases/renew/".Length..]);
            return;
        }

        if (path.StartsWith("auth/token/create/", StringComparison.Ordinal) && write)
        {
            var role = path["auth/token/create/".Length..];
            if (!TokenRoles.TryGetValue(role, out var roleEntry))
            {
                await Error(c, 400, $"unknown role {role}");
                return;
            }

            await CreateTokenAsync(c, caller, body!.Value, roleEntry, roleEntry.Orphan);
            return;
        }

        if (Engines.TryGetValue(path, out var engine))
        {
            if (method != "GET")
            {
                await Error(c, 405, "1 error occurred:\n\t* unsupported operation\n\n");
                return;
            }

            await ReadSecretAsync(c, caller, path, engine);
            return;
        }

        await Error(c, 404, $"no handler for route \"{path}\". route entry not found.");
    }

    private async Task LoginAsync(HttpContext c, string path, JsonElement? body)
    {
        switch (path)
        {
            case "auth/approle/login" when Str(body, "role_id") == AppRoleId && Str(body, "secret_id") == AppRoleSecretId:
            case "auth/kubernetes/login" when Str(body, "role") == KubernetesRole && AcceptedJwts.Contains(Str(body, "jwt") ?? ""):
            case "auth/jwt/login" when Str(body, "role") == JwtRole && AcceptedJwts.Contains(Str(body, "jwt") ?? ""):
                var token = new FakeToken
                {
                    Id = FakeIds.Token(), Accessor = FakeIds.Random(24), Policies = ["default", "jitbroker"], Ttl = LoginTokenTtl,
                    ExplicitMaxTtl = LoginTokenMaxTtl, Renewable = true, Orphan = true,
                };
                Tokens[token.Id] = token;
                await Json(c, 200, Envelope(auth: AuthBlock(token)));
                return;
            case "auth/approle/login":
                await Error(c, 400, "invalid role or secret ID");
                return;
            case "auth/kubernetes/login" when Str(body, "role") != KubernetesRole:
                await Error(c, 400, $"invalid role name \"{Str(body, "role")}\"");
                return;
            case "auth/kubernetes/login":
                await Error(c, 403, "permission denied");
                return;
            case "auth/jwt/login":
                await Error(c, 400, "error validating token: invalid audience (aud) claim");
                return;
            default:
                await Error(c, 404, $"no handler for route \"{path}\". route entry not found.");
                return;
        }
    }

    private async Task CreateTokenAsync(HttpContext c, FakeToken caller, JsonElement body, FakeTokenRole? role, bool orphan)
    {
        var ttl = Duration(body, "ttl");
        var explicitMax = Duration(body, "explicit_max_ttl");
        var max = role is { MaxTtl: > 0 } ? Math.Min(role.MaxTtl, TokenMountMaxTtl) : TokenMountMaxTtl;
        var warnings = new List<string>();
        if (ttl > max)
        {
            warnings.Add($"TTL of \"{ttl}s\" exceeded the effective max_ttl of \"{max}s\"; TTL value is capped accordingly");
            ttl = max;
        }

        var policies = body.TryGetProperty("policies", out var p) ? p.EnumerateArray().Select(e => e.GetString()!).ToList() : [.. caller.Policies];
        // vault/token_store.go handleCreateCommon: through a role with allowed_policies, the token's policies must be a
        // subset of them; otherwise (no role) a non-root caller may only give a child a subset of its own policies.
        var allowed = role is { AllowedPolicies.Count: > 0 } ? role.AllowedPolicies : caller.Policies.Contains("root") || !EnforcePolicies ? null : caller.Policies;
        if (allowed is not null && policies.Any(x => x != "default" && !allowed.Contains(x)))
        {
            await Error(c, 400, role is null ? "child policies must be subset of parent" : "token policies must be subset of the role's allowed policies");
            return;
        }

        var noDefault = body.TryGetProperty("no_default_policy", out var nd) && nd.GetBoolean();
        warnings.AddRange(policies.Where(x => !KnownPolicies.Contains(x)).Select(x => $"Policy \"{x}\" does not exist"));
        var token = new FakeToken
        {
            Id = role?.TokenType == "batch" ? "hvb." + FakeIds.Random(40) : FakeIds.Token(),
            Accessor = role?.TokenType == "batch" ? "" : FakeIds.Random(24),
            ParentId = orphan ? null : caller.Id,
            Policies = noDefault ? [.. policies.Where(x => x != "default")] : ["default", .. policies.Where(x => x != "default")],
            Meta = body.TryGetProperty("meta", out var m) ? m.EnumerateObject().ToDictionary(x => x.Name, x => x.Value.GetString()!) : [],
            DisplayName = "token-" + Str(body, "display_name"),
            Ttl = ttl,
            ExplicitMaxTtl = explicitMax,
            Renewable = !body.TryGetProperty("renewable", out var r) || r.GetBoolean(),
            Orphan = orphan,
            NumUses = body.TryGetProperty("num_uses", out var n) ? n.GetInt32() : 0,
        };
        Tokens[token.Id] = token;
        await Json(c, 200, Envelope(auth: AuthBlock(token), warnings: warnings));
    }

    private async Task RenewTokenAsync(HttpContext c, FakeToken token, long increment, bool echoToken)
    {
        if (!token.Renewable)
        {
            await Error(c, 400, "lease is not renewable");
            return;
        }

        var requested = increment > 0 ? increment : token.Ttl;
        var cap = token.ExplicitMaxTtl > 0 ? token.ExplicitMaxTtl : long.MaxValue;
        var warnings = new List<string>();
        if (requested > cap)
        {
            warnings.Add($"TTL of \"{requested}s\" exceeded the effective max_ttl of \"{cap}s\"; TTL value is capped accordingly");
        }

        token.Ttl = Math.Min(requested, cap);
        var auth = AuthBlock(token);
        auth["client_token"] = echoToken ? token.Id : "";
        await Json(c, 200, Envelope(auth: auth, warnings: warnings));
    }

    private async Task ReadSecretAsync(HttpContext c, FakeToken caller, string path, FakeEngine engine)
    {
        if (!engine.Leased)
        {
            // A KV secret: data, no lease.
            await Json(c, 200, Envelope(data: new Dictionary<string, string> { ["api_key"] = "static-" + FakeIds.Random(12) }));
            return;
        }

        var lease = new FakeLease
        {
            LeaseId = $"{path}/{FakeIds.Random(24)}", Path = path, Duration = engine.LeaseDuration, Renewable = engine.Renewable,
            MaxTtl = engine.MaxTtl, CreatedByToken = caller.Id,
        };
        Leases[lease.LeaseId] = lease;
        var data = new Dictionary<string, string> { ["username"] = "v-jit-" + FakeIds.Random(8), ["password"] = "pw-" + FakeIds.Random(20) };
        await Json(c, 200, Envelope(data: data, leaseId: lease.LeaseId, leaseDuration: lease.Duration, renewable: lease.Renewable));
    }

    private async Task RevokeLeaseAsync(HttpContext c, JsonElement? body, string? urlLeaseId = null)
    {
        var leaseId = urlLeaseId ?? Str(body, "lease_id");
        if (string.IsNullOrEmpty(leaseId))
        {
            await Error(c, 400, "lease_id must be specified");
            return;
        }

        // vault/logical_system.go handleRevoke: sync → revoke now, 204 (an unknown lease is "nothing to revoke",
        // also 204); otherwise LazyRevoke and 202.
        if (Leases.TryGetValue(leaseId, out var lease))
        {
            lease.Revoked = true;
            Leases.TryRemove(leaseId, out _);
        }

        var sync = body is { } b && b.TryGetProperty("sync", out var s) && s.GetBoolean() && !IgnoreRevokeSync;
        if (sync)
        {
            await NoContent(c);
        }
        else
        {
            c.Response.StatusCode = 202;
        }
    }

    private async Task RenewLeaseAsync(HttpContext c, JsonElement? body, string? urlLeaseId = null)
    {
        if (!Leases.TryGetValue(urlLeaseId ?? Str(body, "lease_id") ?? "", out var lease) || lease.Revoked)
        {
            await Error(c, 400, "lease not found or lease is not renewable");
            return;
        }

        if (!lease.Renewable)
        {
            await Error(c, 400, "lease is not renewable");
            return;
        }

        lease.Duration = Math.Min(body!.Value.GetProperty("increment").GetInt64(), lease.MaxTtl);
        await Json(c, 200, new { lease_id = lease.LeaseId, renewable = true, lease_duration = lease.Duration });
    }

    private static Dictionary<string, object?> AuthBlock(FakeToken t) => new()
    {
        ["client_token"] = t.Id, ["accessor"] = t.Accessor, ["policies"] = t.Policies, ["token_policies"] = t.Policies,
        ["metadata"] = t.Meta, ["lease_duration"] = t.Ttl, ["renewable"] = t.Renewable, ["entity_id"] = "",
        ["token_type"] = t.Id.StartsWith("hvb.", StringComparison.Ordinal) ? "batch" : "service", ["orphan"] = t.Orphan,
    };

    private static Dictionary<string, object?> Envelope(object? data = null, object? auth = null, IReadOnlyList<string>? warnings = null,
        string leaseId = "", long leaseDuration = 0, bool renewable = false) => new()
    {
        ["request_id"] = Guid.NewGuid().ToString(), ["lease_id"] = leaseId, ["renewable"] = renewable, ["lease_duration"] = leaseDuration,
        ["data"] = data, ["wrap_info"] = null, ["warnings"] = warnings is { Count: > 0 } ? warnings : null, ["auth"] = auth,
    };

    private static string? Str(JsonElement? body, string name) =>
        body is { ValueKind: JsonValueKind.Object } b && b.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>Vault duration strings: "300s", "5m", "1h" or a bare number of seconds.</summary>
    private static long Duration(JsonElement? body, string name)
    {
        if (body is not { ValueKind: JsonValueKind.Object } b || !b.TryGetProperty(name, out var v))
        {
            return 0;
        }

        if (v.ValueKind == JsonValueKind.Number)
        {
            return v.GetInt64();
        }

        var text = v.GetString() ?? "";
        var unit = text.Length > 0 && char.IsLetter(text[^1]) ? text[^1] : 's';
        var number = long.Parse(char.IsLetter(text[^1]) ? text[..^1] : text, CultureInfo.InvariantCulture);
        return unit switch { 'h' => number * 3600, 'm' => number * 60, _ => number };
    }
}
