using System.Text.Json;
using JitBroker.Core;

namespace JitBroker.Issuance;

/// <summary>The structured claims of a task JWT: confirmation (<c>cnf</c>), actor chain (<c>act</c>) and arrays.</summary>
public sealed partial class JwtCredentialIssuer
{
    /// <summary>
    /// One <c>cnf</c> object (RFC 7800 §3.1) holding every binding the caller proved: <c>jkt</c>, the RFC 7638 thumbprint of
    /// its DPoP proof key (RFC 9449 §6.1), and <c>x5t#S256</c>, its mTLS client certificate's (RFC 8705 §3.1). None: no cnf.
    /// </summary>
    private static void WriteConfirmation(Utf8JsonWriter writer, WorkloadIdentity agent)
    {
        var jkt = agent.ProofKeyThumbprint is { Length: > 0 } proofKey ? proofKey : null;
        var x5t = agent.CertificateThumbprint is { Length: > 0 } certificate ? certificate : null;
        if (jkt is null && x5t is null)
        {
            return;
        }

        writer.WriteStartObject(TaskJwtClaimNames.ConfirmationName);
        if (jkt is not null)
        {
            writer.WriteString(TaskJwtClaimNames.ProofKeyThumbprintName, jkt);
        }

        if (x5t is not null)
        {
            writer.WriteString(TaskJwtClaimNames.CertificateThumbprintName, x5t);
        }

        writer.WriteEndObject();
    }

    /// <summary>RFC 8693 §4.1 nested <c>act</c>: the current actor outermost, each prior actor nested inside.</summary>
    private static void WriteActorChain(Utf8JsonWriter writer, IReadOnlyList<string> actors)
    {
        foreach (var actor in actors)
        {
            writer.WriteStartObject(TaskJwtClaimNames.ActorName);
            writer.WriteString(TaskJwtClaimNames.SubjectName, actor);
        }

        for (var i = 0; i < actors.Count; i++)
        {
            writer.WriteEndObject();
        }
    }

    private static void WriteArray(Utf8JsonWriter writer, JsonEncodedText name, IReadOnlyList<string> values)
    {
        writer.WriteStartArray(name);
        // Indexed, not foreach: through IReadOnlyList a foreach boxes the array's enumerator on every token minted.
        for (var i = 0; i < values.Count; i++)
        {
            writer.WriteStringValue(values[i]);
        }

        writer.WriteEndArray();
    }
}
