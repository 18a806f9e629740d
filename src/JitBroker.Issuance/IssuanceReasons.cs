namespace JitBroker.Issuance;

/// <summary>Stable reason codes raised by the issuance component (see <see cref="Core.BrokerException.Reason"/>).</summary>
public static class IssuanceReasons
{
    /// <summary>Signing key options are missing or contradictory.</summary>
    public const string SigningKeyOptionsInvalid = "signing_key.options_invalid";

    /// <summary>A key file could not be read, or its content is not a usable PEM.</summary>
    public const string SigningKeyUnreadable = "signing_key.unreadable";

    /// <summary>A private key file is readable or writable by group or other.</summary>
    public const string SigningKeyInsecurePermissions = "signing_key.insecure_permissions";

    /// <summary>The key is not an EC P-256 key (RSA, P-384, …).</summary>
    public const string SigningKeyUnsupported = "signing_key.unsupported";

    /// <summary>Issuer options are missing or invalid.</summary>
    public const string JwtOptionsInvalid = "jwt.options_invalid";

    /// <summary>The grant cannot be expressed as a task JWT (no audience, a scope token with spaces, …).</summary>
    public const string JwtGrantInvalid = "jwt.grant_invalid";
}
