using System.Net;
using JitBroker.Attestation;
using JitBroker.Issuance;

namespace JitBroker.Server;

/// <summary>
/// One code path for start-up validation and the dry-run <c>check</c> command: every options type validates
/// itself here, once, and names its keys by their full configuration path (<c>JitBroker:Issuer:Issuer</c>); every
/// problem is reported at once, and any problem stops the broker before it listens.
/// </summary>
public static class SettingsValidator
{
    /// <param name="s">The bound settings, embedded defaults applied.</param>
    /// <param name="devTrustDomainPending">
    /// Embedded profile: start-up creates (or repairs) the development trust domain after validation, so it counts as
    /// a JWT-SVID bundle that <c>check</c>, which creates nothing, cannot see yet.
    /// </param>
    public static IReadOnlyList<string> Validate(JitBrokerSettings s, bool devTrustDomainPending = false)
    {
        var errors = new List<string>();
        if (s.Profile is not (Profiles.Embedded or Profiles.Production))
        {
            errors.Add($"JitBroker:Profile must be '{Profiles.Embedded}' or '{Profiles.Production}', not '{s.Profile}'.");
        }

        if (string.IsNullOrWhiteSpace(s.DataDirectory))
        {
            errors.Add("JitBroker:DataDirectory must be set.");
        }

        ValidateListeners(s, errors);
        errors.AddRange(s.Broker.Validate());
        errors.AddRange(s.Issuer.Validate());
        errors.AddRange(s.SigningKey.ToOptions(s.DataDirectory).Validate());
        // Audit checkpoints are ES256 only (docs/audit.md): their verifiers, jitctl and the documented script, check nothing else.
        errors.AddRange(s.AuditSigningKey.ToOptions(s.DataDirectory).Validate()
            .Where(e => !e.StartsWith(SigningKeyOptions.SectionPath + ":Algorithm", StringComparison.Ordinal))
            .Select(e => e.Replace("JitBroker:SigningKey", "JitBroker:AuditSigningKey", StringComparison.Ordinal)));
        if (s.AuditSigningKey.Algorithm != SigningAlgorithms.Es256)
        {
            errors.Add($"JitBroker:AuditSigningKey:Algorithm must be {SigningAlgorithms.Es256}, not '{s.AuditSigningKey.Algorithm}': audit checkpoints " +
                "are signed and verified with ES256 only (JitBroker:SigningKey:Algorithm chooses the token algorithm).");
        }

        if (s.AuditSigningKey.PrivateKeyPemPath is { Length: > 0 } auditKey && s.SigningKey.PrivateKeyPemPath is { Length: > 0 } tokenKey &&
            string.Equals(Path.GetFullPath(auditKey), Path.GetFullPath(tokenKey), StringComparison.Ordinal))
        {
            errors.Add("JitBroker:AuditSigningKey:PrivateKeyPemPath must not be the token key (JitBroker:SigningKey:PrivateKeyPemPath): " +
                "whoever steals the token key could then re-sign rewritten audit history.");
        }
        errors.AddRange(s.Revocation.Validate());
        errors.AddRange(s.Attestation.Validate(jwtSvidBundleProvidedLater: devTrustDomainPending));
        ValidateReplaySlack(s, errors);
        ValidateKeyRotation(s, errors);

        errors.AddRange(s.Policy.Validate());
        errors.AddRange(s.Audit.Validate());
        errors.AddRange(s.Admission.Validate());
        errors.AddRange(s.Admin.Validate().Select(e => "JitBroker:" + e));
        errors.AddRange(s.Introspection.Validate().Select(e => "JitBroker:" + e));
        errors.AddRange(s.Tools.Validate().Select(e => "JitBroker:" + e));
        errors.AddRange(s.OAuth.Validate().Select(e => "JitBroker:" + e));
        errors.AddRange(s.Ssf.Validate(s.OAuth.Enabled).Select(e => "JitBroker:" + e));
        errors.AddRange(s.Notifications.Validate(production: !s.IsEmbedded).Select(e => "JitBroker:" + e));
        errors.AddRange(ConsoleListenerRules.Validate(s));
        errors.AddRange(s.Telemetry.Validate());
        if (s.Vault.Address is not null)
        {
            errors.AddRange(s.Vault.Validate());
        }

        if (s.Leases.Store is not (LeaseStoreSettings.Memory or LeaseStoreSettings.Redis))
        {
            errors.Add($"JitBroker:Leases:Store '{s.Leases.Store}' is not supported; use 'memory' or 'redis'.");
        }
        else if (s.UsesRedis)
        {
            errors.AddRange(s.Redis.Validate());
            errors.AddRange(s.StateIntegrity.Validate(production: !s.IsEmbedded));
        }

        if (!s.IsEmbedded)
        {
            // The dev trust domain's private key sits next to the broker; trusting it in production would let
            // anyone with file access mint agent identities.
            if (s.Attestation.JwtSvid.TrustBundles.Keys.Concat(s.Attestation.JwtSvid.TrustBundleUrls.Keys).Concat(s.Attestation.X509Svid.TrustBundles.Keys)
                .Any(td => string.Equals(td, DevTrustDomain.Name, StringComparison.OrdinalIgnoreCase)))
            {
                errors.Add($"The development trust domain '{DevTrustDomain.Name}' exists only in the embedded profile; remove it from the trust bundles.");
            }

            if (!AnyTrustSource(s))
            {
                errors.Add("A production broker needs at least one trust bundle or OIDC issuer (JitBroker:Attestation).");
            }

            if (!s.UsesRedis)
            {
                errors.Add("A production broker needs the Redis lease store (JitBroker:Leases:Store = redis): in-memory leases die with the process.");
            }

            ValidateBackendTransport(s, errors);

            // A generated audit key lands in the pod's data directory (often an emptyDir) and dies with the pod,
            // taking the only way to verify that replica's checkpoints with it; and it lives on the broker host.
            if (string.IsNullOrEmpty(s.AuditSigningKey.PrivateKeyPemPath))
            {
                errors.Add("JitBroker:AuditSigningKey:PrivateKeyPemPath is required in the production profile: a generated audit key " +
                    "dies with the pod's data directory and checkpoints could no longer be verified (docs/audit.md).");
            }
        }

        return errors;
    }

    /// <summary>
    /// Production: Redis holds leases, approvals and blocks, and Vault hands out secrets, so both are reached over TLS,
    /// unless an operator states that a mesh encrypts the hop (then the host logs a warning at every start).
    /// </summary>
    private static void ValidateBackendTransport(JitBrokerSettings s, List<string> errors)
    {
        if (s.UsesRedis && !s.Redis.UseTls && !s.Redis.CleartextBehindMesh)
        {
            errors.Add($"{JitBroker.Redis.RedisOptions.SectionPath}:UseTls must be true in the production profile (Redis holds leases, approvals and blocks). " +
                $"Set {JitBroker.Redis.RedisOptions.SectionPath}:CleartextBehindMesh=true only when a service mesh encrypts the connection.");
        }

        if (s.Vault.Address is { } vault && vault.Scheme != Uri.UriSchemeHttps && !s.Vault.CleartextBehindMesh)
        {
            errors.Add($"{JitBroker.Vault.VaultOptions.SectionPath}:Address must be https in the production profile. " +
                $"Set {JitBroker.Vault.VaultOptions.SectionPath}:CleartextBehindMesh=true only when a service mesh encrypts the connection.");
        }
    }

    private static bool AnyTrustSource(JitBrokerSettings s) =>
        s.Attestation.JwtSvid.IsConfigured() || s.Attestation.Oidc.IsConfigured() || s.Attestation.X509Svid.IsConfigured();

    private static void ValidateKeyRotation(JitBrokerSettings s, List<string> errors)
    {
        const string Key = "JitBroker:SigningKey:Rotation";
        var root = s.SigningKey.RotationRootSecretPath;
        if (s.SigningKey.RotationSchedule is not { } rotation)
        {
            if (!string.IsNullOrEmpty(root))
            {
                errors.Add($"{Key}RootSecretPath is set but {Key}Interval is not: set the interval, or remove the root secret.");
            }

            return;
        }

        // Rotated keys are derived from the root secret: sound for P-256 (a scalar from HKDF, DerivedSigningKey) but there is
        // no vetted way to derive an RSA key from a secret (a prime search seeded by HKDF would be hand-rolled cryptography).
        if (SigningAlgorithms.IsRsa(s.SigningKey.Algorithm))
        {
            errors.Add($"{Key}Interval works with JitBroker:SigningKey:Algorithm {SigningAlgorithms.Es256} only, not {s.SigningKey.Algorithm}: " +
                "rotated keys are derived from the root secret on every replica, which is sound for EC P-256 but has no vetted " +
                "equivalent for RSA. Use ES256 with scheduled rotation, or rotate RSA key files through PreviousPublicKeyPemPaths " +
                "(docs/deployment.md).");
        }

        if (!string.IsNullOrEmpty(s.SigningKey.PrivateKeyPemPath))
        {
            errors.Add($"{Key}Interval derives its keys from {Key}RootSecretPath and cannot rotate JitBroker:SigningKey:PrivateKeyPemPath; " +
                "set one or the other (rotate key files through PreviousPublicKeyPemPaths).");
        }

        // Every replica and every restart must derive the same keys; a secret generated into a pod's data directory
        // would differ per replica and die with the pod.
        if (!s.IsEmbedded && string.IsNullOrEmpty(root))
        {
            errors.Add($"{Key}RootSecretPath is required with {Key}Interval in the production profile: every replica derives its token keys " +
                "from that shared secret (docs/deployment.md).");
        }

        errors.AddRange(rotation.Validate(HttpEndpoints.JwksCacheLifetime, s.Broker.MaxTtl + TimeSpan.FromMinutes(1)).Select(e => $"{Key}{e}"));
    }

    // A bearer token is accepted until exp + leeway; the replay cache forgets it at exp + ReplaySlack. A slack shorter
    // than the leeway leaves a window in which a captured token is accepted again (X.509-SVIDs have no replay key).
    private static void ValidateReplaySlack(JitBrokerSettings s, List<string> errors)
    {
        var (key, leeway) = s.Attestation.Oidc.Leeway > s.Attestation.JwtSvid.Leeway
            ? ($"{OidcOptions.SectionPath}:Leeway", s.Attestation.Oidc.Leeway)
            : ($"{JwtSvidOptions.SectionPath}:Leeway", s.Attestation.JwtSvid.Leeway);
        if (s.Broker.ReplaySlack < leeway)
        {
            errors.Add($"{Core.BrokerOptions.SectionPath}:ReplaySlack ({s.Broker.ReplaySlack.TotalSeconds:0}s) must be at least the largest " +
                $"attestation leeway, {key} ({leeway.TotalSeconds:0}s): a token replayed after the cache forgets it would be accepted again.");
        }
    }

    private static void ValidateListeners(JitBrokerSettings s, List<string> errors)
    {
        var l = s.Listen;
        if (l.Grpc.Length > 0)
        {
            CheckEndpoint(l.Grpc, "JitBroker:Listen:Grpc", errors);
        }

        CheckEndpoint(l.Http, "JitBroker:Listen:Http", errors);
        CheckEndpoint(l.Admin, "JitBroker:Listen:Admin", errors);
        var named = new[] { ("Grpc", l.Grpc), ("Http", l.Http), ("Tls", l.Tls ?? ""), ("Mtls", l.Mtls ?? ""), ("Admin", l.Admin) }
            .Where(e => e.Item2.Length > 0 && !e.Item2.EndsWith(":0", StringComparison.Ordinal))
            .GroupBy(e => e.Item2, StringComparer.OrdinalIgnoreCase)
            .Where(g => g.Count() > 1);
        foreach (var clash in named)
        {
            errors.Add($"JitBroker:Listen: {string.Join(", ", clash.Select(e => e.Item1))} share the address '{clash.Key}'; every listener needs its own port.");
        }

        errors.AddRange(l.ValidateLimits());
        if (l.Tls is { } tls)
        {
            CheckEndpoint(tls, "JitBroker:Listen:Tls", errors);
            if (!File.Exists(l.TlsCertificatePath) || !File.Exists(l.TlsKeyPath))
            {
                errors.Add("JitBroker:Listen:Tls needs TlsCertificatePath and TlsKeyPath naming existing PEM files.");
            }
        }

        if (l.Mtls is { } mtls)
        {
            CheckEndpoint(mtls, "JitBroker:Listen:Mtls", errors);
            if (!File.Exists(l.MtlsCertificatePath) || !File.Exists(l.MtlsKeyPath))
            {
                errors.Add("JitBroker:Listen:Mtls needs MtlsCertificatePath and MtlsKeyPath naming existing PEM files.");
            }

            if (!s.Attestation.X509Svid.IsConfigured())
            {
                errors.Add("JitBroker:Listen:Mtls is set but no X.509 trust bundle is configured (JitBroker:Attestation:X509Svid:TrustBundles).");
            }
        }

        if ((l.AdminCertificatePath is null) != (l.AdminKeyPath is null)
            || (l.AdminCertificatePath is not null && (!File.Exists(l.AdminCertificatePath) || !File.Exists(l.AdminKeyPath))))
        {
            errors.Add("JitBroker:Listen:AdminCertificatePath and AdminKeyPath must both name existing PEM files (or both be unset).");
        }

        if (l.AdminClientCaPath is not null && (l.AdminCertificatePath is null || !File.Exists(l.AdminClientCaPath)))
        {
            errors.Add("JitBroker:Listen:AdminClientCaPath needs the admin listener on TLS (AdminCertificatePath) and must name an existing PEM file.");
        }

        if (!s.IsEmbedded && !l.TlsTerminatedBySidecar)
        {
            foreach (var (name, address) in CleartextListeners(l))
            {
                if (TryParse(address) is { } endpoint && !IPAddress.IsLoopback(endpoint.Address))
                {
                    errors.Add($"JitBroker:Listen:{name} ({address}) is cleartext on a non-loopback address: a production broker serves agents and admins over TLS. " +
                        "Bind it to loopback, use Listen:Tls / Listen:AdminCertificatePath, or set Listen:TlsTerminatedBySidecar=true when a mesh sidecar terminates TLS.");
                }
            }
        }
    }

    /// <summary>The gRPC listeners that carry identity tokens in cleartext (the HTTP listener carries only public data).</summary>
    public static IEnumerable<(string Name, string Address)> CleartextListeners(ListenSettings l)
    {
        if (l.Grpc.Length > 0)
        {
            yield return ("Grpc", l.Grpc);
        }

        if (l.AdminCertificatePath is null)
        {
            yield return ("Admin", l.Admin);
        }
    }

    private static IPEndPoint? TryParse(string value)
    {
        try
        {
            return ParseEndpoint(value);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Parses "host:port" into an endpoint; hosts are IP literals or "localhost".</summary>
    public static IPEndPoint ParseEndpoint(string value)
    {
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), out var port) || port is < 0 or > 65535)
        {
            throw new FormatException($"'{value}' is not host:port.");
        }

        var host = value[..colon].Trim('[', ']');
        var address = host switch
        {
            "localhost" => IPAddress.Loopback,
            "*" or "0.0.0.0" => IPAddress.Any,
            _ => IPAddress.TryParse(host, out var ip) ? ip : throw new FormatException($"'{host}' is not an IP address."),
        };
        return new IPEndPoint(address, port);
    }

    private static void CheckEndpoint(string value, string key, List<string> errors)
    {
        try
        {
            ParseEndpoint(value);
        }
        catch (FormatException ex)
        {
            errors.Add($"{key}: {ex.Message}");
        }
    }
}
