using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using JitBroker.Core;

namespace JitBroker.Issuance;

/// <summary>
/// The built-in issuer: mints task JWTs in the RFC 9068 access-token profile, signed with the key provider's current
/// key in that key's algorithm (ES256, RS256 or PS256: <see cref="SigningAlgorithms"/>), and verifies
/// them for introspection. Minting is local CPU work (no I/O), so <see cref="IssueAsync"/> completes
/// synchronously. Safe for concurrent use.
/// </summary>
/// <remarks>
/// Token shape: header <c>{"alg":&lt;the key's algorithm&gt;,"typ":&lt;TokenType&gt;,"kid":&lt;RFC 7638 thumbprint&gt;}</c>;
/// claims <c>iss, sub, aud</c> (one string), <c>iat, nbf = iat, exp = iat + whole seconds of the TTL,
/// jti</c> (= lease id), <c>client_id</c> (= agent id), <c>task_id, scope, action, tools, resources</c>,
/// <c>act</c> for a delegated credential and, when the credential is sender-constrained, one <c>cnf</c> object with
/// <c>jkt</c> (DPoP proof key, RFC 9449 §6.1) and/or <c>x5t#S256</c> (mTLS client certificate, RFC 8705 §3.1).
/// See <see cref="TaskJwtClaimNames"/>.
/// No refresh token is ever issued.
/// </remarks>
public sealed partial class JwtCredentialIssuer : ICredentialIssuer, ITaskCredentialVerifier
{
    /// <summary>
    /// Claims are written as plain JSON: the default encoder would turn "at+jwt" into "at\u002Bjwt", valid
    /// but surprising to every relying party that reads the header. HTML-safe escaping buys nothing inside
    /// a base64url segment.
    /// </summary>
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The issuer kind this class registers as.</summary>
    public const string KindName = "jwt";

    /// <summary>Largest token <see cref="Verify"/> looks at; anything longer is not one of ours.</summary>
    public const int MaxTokenLength = Core.Handlers.IntrospectionHandler.MaxTokenLength;

    // RFC 6749 §3.3 scope-token: printable ASCII except space, '"' and '\'.
    private static readonly SearchValues<char> ScopeTokenChars = SearchValues.Create(
        "!#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    private const string ToolScopeSeparator = " " + TaskJwtClaimNames.ToolScopePrefix;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_payloadBuffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_payloadWriter;

    private readonly ISigningKeyProvider _keys;
    private readonly TimeProvider _time;
    private readonly string _issuer;
    private readonly string _tokenType;
    private readonly JsonEncodedText _issuerValue;
    private volatile EncodedHeader? _header;

    public JwtCredentialIssuer(ISigningKeyProvider keys, JwtIssuerOptions options, TimeProvider time)
    {
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Issuance.JwtOptionsInvalid, string.Join(" ", problems));
        }

        _keys = keys;
        _time = time;
        // Snapshot: options objects are mutable, a token's issuer and type must not be.
        _issuer = options.Issuer;
        _tokenType = options.TokenType;
        _issuerValue = JsonEncodedText.Encode(_issuer);
    }

    public string Kind => KindName;

    /// <summary>
    /// Mints the task JWT. The lifetime granted is <c>Grant.Ttl</c> rounded down to whole seconds (JWT
    /// times are whole seconds); <see cref="IssuedCredential.IssuedAt"/> and <see cref="IssuedCredential.ExpiresAt"/>
    /// equal the token's <c>iat</c> and <c>exp</c> exactly. Throws <see cref="BrokerException"/>
    /// (<see cref="Reasons.Issuance.JwtGrantInvalid"/>) for a grant a JWT cannot carry: no audience, a
    /// lifetime under one second, or an action or tool that is not a valid scope token.
    /// </summary>
    public ValueTask<IssuedCredential> IssueAsync(IssueRequest request, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var scope = request.Grant.Scope;
        var lifetimeSeconds = request.Grant.Ttl.Ticks / TimeSpan.TicksPerSecond;
        RequireGrant(lifetimeSeconds >= 1, "The granted lifetime is shorter than one second.");
        RequireGrant(!string.IsNullOrWhiteSpace(scope.Audience), "The grant names no audience.");
        RequireGrant(IsScopeToken(scope.Action), "The granted action is not a valid scope token.");
        RequireGrant(AllScopeTokens(scope.Tools), "A granted tool name is not a valid scope token.");

        var issuedAt = _time.GetUtcNow().ToUnixTimeSeconds();
        var expiresAt = issuedAt + lifetimeSeconds;
        string token;
        try
        {
            token = Mint(request, issuedAt, expiresAt);
        }
        catch (CryptographicException e)
        {
            throw new BrokerException(BrokerFailure.Internal, Reasons.IssuerFailed, "The task JWT could not be signed.", e);
        }

        return ValueTask.FromResult(new IssuedCredential(KindName, token, request.LeaseId,
            DateTimeOffset.FromUnixTimeSeconds(issuedAt), DateTimeOffset.FromUnixTimeSeconds(expiresAt)));
    }

    /// <summary>
    /// Always <see cref="RevocationResult.Revoked"/>: a signed JWT cannot be recalled from whoever holds
    /// it, and there is no backend to tell. Its revocation is the lease marked revoked (which makes
    /// introspection answer inactive) plus its short lifetime; DESIGN.md "Revocation".
    /// </summary>
    public ValueTask<RevocationResult> RevokeAsync(Lease lease, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(RevocationResult.Revoked);

    /// <inheritdoc />
    /// <remarks>True: <see cref="RevokeAsync"/> above has nothing to tell anyone; the lease's mark is the revocation.</remarks>
    public bool RevokedByLedgerMark => true;

    /// <summary>
    /// A signed JWT's <c>exp</c> cannot move, so renewal mints a fresh token for the same lease (same
    /// <c>jti</c>, same scope). The broker records the new token's fingerprint, so introspection answers
    /// inactive for the old one from then on; offline verifiers still accept the old one until its own exp.
    /// A delegated lease's replacement keeps the root planner as <c>sub</c> and the nested <c>act</c> chain. Its <c>cnf</c>
    /// is <paramref name="agent"/>'s bindings, which the renewal handler sets from the lease (<see cref="Lease.ProofKeyThumbprint"/>).
    /// A lease record that failed its integrity check (<see cref="Lease.BackendHandleUntrusted"/>, which covers the binding
    /// too) is refused with <see cref="Reasons.Store.IntegrityCheckFailed"/>: someone who can write the store must not be able
    /// to strip or swap a token's binding by rewriting the lease.
    /// </summary>
    public async ValueTask<RenewedCredential> RenewAsync(Lease lease, WorkloadIdentity agent, DateTimeOffset newExpiresAt, DelegationChain? delegation = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lease);
        if (lease.BackendHandleUntrusted)
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Store.IntegrityCheckFailed,
                "The lease record failed its integrity check; it is not renewed. Request a new credential.");
        }

        var grant = new Grant(KindName, lease.Scope, newExpiresAt - _time.GetUtcNow(), new Dictionary<string, string>());
        var issued = await IssueAsync(new IssueRequest(lease.LeaseId, agent, lease.TaskId, grant, delegation), cancellationToken).ConfigureAwait(false);
        return new RenewedCredential(issued.ExpiresAt, issued.Secret);
    }

    private string Mint(IssueRequest request, long issuedAt, long expiresAt)
    {
        var key = _keys.Current;
        var header = HeaderFor(key);
        var payload = WritePayload(request, issuedAt, expiresAt);

        var signingInputLength = header.Length + 1 + Base64Url.GetEncodedLength(payload.Length);
        // The signature's size is the key's: 64 bytes for ES256, the modulus length for RS256/PS256.
        var total = signingInputLength + 1 + Base64Url.GetEncodedLength(key.SignatureSize);
        var buffer = ArrayPool<byte>.Shared.Rent(total);
        try
        {
            header.CopyTo(buffer, 0);
            buffer[header.Length] = (byte)'.';
            Base64Url.EncodeToUtf8(payload.Span, buffer.AsSpan(header.Length + 1));

            // At most 1 KiB (RSA-8192): the signature lives on the stack only until it is encoded.
            Span<byte> signature = stackalloc byte[key.SignatureSize];
            key.Sign(buffer.AsSpan(0, signingInputLength), signature);
            buffer[signingInputLength] = (byte)'.';
            Base64Url.EncodeToUtf8(signature, buffer.AsSpan(signingInputLength + 1));
            return Encoding.ASCII.GetString(buffer, 0, total);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ReleaseOversizedPayloadBuffer();
        }
    }

    private ReadOnlyMemory<byte> WritePayload(IssueRequest request, long issuedAt, long expiresAt)
    {
        var buffer = t_payloadBuffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var writer = t_payloadWriter ??= new Utf8JsonWriter(buffer, JsonOptions);
        writer.Reset(buffer);

        var scope = request.Grant.Scope;
        writer.WriteStartObject();
        writer.WriteString(TaskJwtClaimNames.IssuerName, _issuerValue);
        // A delegated credential's subject is the root planner whose grant it carries (RFC 8693 §4.1); the
        // worker holding it is the client and the current actor.
        writer.WriteString(TaskJwtClaimNames.SubjectName, request.Delegation?.Subject ?? request.Agent.Id);
        writer.WriteString(TaskJwtClaimNames.AudienceName, scope.Audience);
        writer.WriteNumber(TaskJwtClaimNames.IssuedAtName, issuedAt);
        writer.WriteNumber(TaskJwtClaimNames.NotBeforeName, issuedAt);
        writer.WriteNumber(TaskJwtClaimNames.ExpiresName, expiresAt);
        writer.WriteString(TaskJwtClaimNames.JwtIdName, request.LeaseId);
        // RFC 9068 §2.2: the agent is both the resource owner (sub) and the OAuth client (client_id).
        writer.WriteString(TaskJwtClaimNames.ClientIdName, request.Agent.Id);
        writer.WriteString(TaskJwtClaimNames.TaskIdName, request.TaskId);

        writer.WritePropertyName(TaskJwtClaimNames.ScopeName);
        writer.WriteStringValueSegment(scope.Action, isFinalSegment: false);
        foreach (var tool in scope.Tools)
        {
            writer.WriteStringValueSegment(ToolScopeSeparator, isFinalSegment: false);
            writer.WriteStringValueSegment(tool, isFinalSegment: false);
        }

        writer.WriteStringValueSegment(ReadOnlySpan<char>.Empty, isFinalSegment: true);

        writer.WriteString(TaskJwtClaimNames.ActionName, scope.Action);
        WriteArray(writer, TaskJwtClaimNames.ToolsName, scope.Tools);
        WriteArray(writer, TaskJwtClaimNames.ResourcesName, scope.Resources);
        if (request.Delegation is { Actors.Count: > 0 } delegation)
        {
            WriteActorChain(writer, delegation.Actors);
        }

        WriteConfirmation(writer, request.Agent);

        writer.WriteEndObject();
        writer.Flush();
        return buffer.WrittenMemory;
    }

    // A rare huge grant (many long resources) must not pin its buffer to the thread for good.
    private static void ReleaseOversizedPayloadBuffer()
    {
        if (t_payloadBuffer is { Capacity: > 16 * 1024 })
        {
            t_payloadWriter?.Dispose();
            t_payloadWriter = null;
            t_payloadBuffer = null;
        }
    }

    // The header depends only on the key: encode it once per key, not once per token.
    private byte[] HeaderFor(SigningKey key)
    {
        var cached = _header;
        if (cached is not null && ReferenceEquals(cached.Key, key))
        {
            return cached.Encoded;
        }

        var json = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(json, JsonOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("alg", key.Algorithm);
            writer.WriteString("typ", _tokenType);
            writer.WriteString("kid", key.KeyId);
            writer.WriteEndObject();
        }

        var encoded = Encoding.ASCII.GetBytes(Base64Url.EncodeToString(json.WrittenSpan));
        _header = new EncodedHeader(key, encoded);
        return encoded;
    }

    private static bool IsScopeToken(string value) =>
        value.Length > 0 && value.AsSpan().IndexOfAnyExcept(ScopeTokenChars) < 0;

    // By index, not Enumerable.All: no enumerator per token minted.
    private static bool AllScopeTokens(IReadOnlyList<string> values)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (!IsScopeToken(values[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static void RequireGrant(bool condition, string message)
    {
        if (!condition)
        {
            throw new BrokerException(BrokerFailure.FailedPrecondition, Reasons.Issuance.JwtGrantInvalid, message);
        }
    }

    private sealed record EncodedHeader(SigningKey Key, byte[] Encoded);
}
