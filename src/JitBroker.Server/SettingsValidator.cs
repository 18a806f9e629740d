using System.Net;
using JitBroker.Attestation;

namespace JitBroker.Server;

/// <summary>
/// One code path for start-up validation and the dry-run <c>check</c> command: every problem is
/// reported at once, and any problem stops the broker before it listens.
/// </summary>
public static class SettingsValidator
{
    public static IReadOnlyList<string> Validate(JitBrokerSettings s)
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

        CheckEndpoint(s.Listen.Grpc, "JitBroker:Listen:Grpc", errors);
        CheckEndpoint(s.Listen.Http, "JitBroker:Listen:Http", errors);
        if (string.Equals(s.Listen.Grpc, s.Listen.Http, StringComparison.OrdinalIgnoreCase) && !s.Listen.Grpc.EndsWith(":0", StringComparison.Ordinal))
        {
            errors.Add("JitBroker:Listen:Grpc and JitBroker:Listen:Http must differ: cleartext HTTP/2 and HTTP/1.1 cannot share a port.");
        }

        if (s.Listen.MaxReceiveMessageSize is < 1024 or > 64 * 1024 * 1024)
        {
            errors.Add("JitBroker:Listen:MaxReceiveMessageSize must be between 1 KiB and 64 MiB.");
        }

        if (s.Listen.Mtls is { } mtls)
        {
            CheckEndpoint(mtls, "JitBroker:Listen:Mtls", errors);
            if (!File.Exists(s.Listen.MtlsCertificatePath) || !File.Exists(s.Listen.MtlsKeyPath))
            {
                errors.Add("JitBroker:Listen:Mtls needs MtlsCertificatePath and MtlsKeyPath naming existing PEM files.");
            }

            if (!s.Attestation.X509Svid.IsConfigured())
            {
                errors.Add("JitBroker:Listen:Mtls is set but no X.509 trust bundle is configured (JitBroker:Attestation:X509Svid:TrustBundles).");
            }
        }

        errors.AddRange(s.Broker.Validate());
        errors.AddRange(s.Issuer.Validate());
        errors.AddRange(s.Revocation.Validate());
        errors.AddRange(s.Attestation.Validate());
        errors.AddRange(s.Policy.Validate());
        errors.AddRange(s.Audit.Validate().Select(e => "JitBroker:Audit: " + e));
        errors.AddRange(s.Admin.Validate().Select(e => "JitBroker:" + e));
        errors.AddRange(s.Telemetry.Validate());
        if (s.Vault.Address is not null)
        {
            errors.AddRange(s.Vault.Validate().Select(e => "JitBroker:Vault: " + e));
        }

        if (s.Leases.Store is not (LeaseStoreSettings.Memory or LeaseStoreSettings.Redis))
        {
            errors.Add($"JitBroker:Leases:Store '{s.Leases.Store}' is not supported; use 'memory' or 'redis'.");
        }
        else if (s.UsesRedis)
        {
            errors.AddRange(s.Redis.Validate().Select(e => "JitBroker:Redis: " + e));
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

            if (!s.Attestation.JwtSvid.IsConfigured() && !s.Attestation.Oidc.IsConfigured() && !s.Attestation.X509Svid.IsConfigured())
            {
                errors.Add("A production broker needs at least one trust bundle or OIDC issuer (JitBroker:Attestation).");
            }

            if (!s.UsesRedis)
            {
                errors.Add("A production broker needs the Redis lease store (JitBroker:Leases:Store = redis): in-memory leases die with the process.");
            }
        }

        return errors;
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
