using System.Buffers.Text;
using System.Text.Json;
using JitBroker.Core;
using JitBroker.Issuance;
using JitBroker.Server.Ssf;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using NUnit.Framework;

namespace JitBroker.Server.Tests.Ssf;

/// <summary>The SET's shape (RFC 8417, SSF 1.0, CAEP session-revoked) and the fan-out rules, without a server.</summary>
public sealed class SecurityEventTokenTests
{
    private const string Issuer = "https://broker.example";
    private static readonly DateTimeOffset T0 = new(2026, 12, 3, 8, 0, 0, TimeSpan.Zero);

    private static PendingSignal Revoked(string lease = "lease_1") => new()
    {
        Id = "set_1", StreamId = "ssf_1", EventType = SignalEventTypes.SessionRevoked, Subject = lease, Audience = "https://tickets.example",
        EventTimestamp = T0, EnqueuedAt = T0,
    };

    private static (JsonElement Header, JsonElement Payload) Decode(string token)
    {
        var parts = token.Split('.');
        return (JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0])).RootElement.Clone(), JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1])).RootElement.Clone());
    }

    [Test]
    public async Task A_session_revoked_set_has_the_rfc_8417_claims_a_jwt_id_subject_and_verifies_against_the_jwks()
    {
        using var keys = new StaticSigningKeyProvider(SigningKey.Generate());
        var token = new SecurityEventTokens(keys, Issuer).Sign(Revoked(), T0.AddSeconds(3));
        var (header, payload) = Decode(token);
        Assert.Multiple(() =>
        {
            Assert.That(header.GetProperty("typ").GetString(), Is.EqualTo("secevent+jwt"));
            Assert.That(header.GetProperty("kid").GetString(), Is.EqualTo(keys.Current.KeyId));
            Assert.That(payload.GetProperty("iss").GetString(), Is.EqualTo(Issuer));
            Assert.That(payload.GetProperty("aud").GetString(), Is.EqualTo("https://tickets.example"));
            Assert.That(payload.GetProperty("iat").GetInt64(), Is.EqualTo(T0.AddSeconds(3).ToUnixTimeSeconds()));
            Assert.That(payload.GetProperty("jti").GetString(), Is.EqualTo("set_1"));
            Assert.That(payload.TryGetProperty("exp", out _), Is.False, "RFC 8417 §2.2: no exp");
            Assert.That(payload.TryGetProperty("sub", out _), Is.False, "the subject is sub_id, never sub");
            Assert.That(payload.GetProperty("sub_id").GetProperty("format").GetString(), Is.EqualTo("jwt_id"));
            Assert.That(payload.GetProperty("sub_id").GetProperty("jti").GetString(), Is.EqualTo("lease_1"));
            var ev = payload.GetProperty("events").GetProperty(SignalEventTypes.SessionRevoked);
            Assert.That(ev.GetProperty("subject").GetProperty("iss").GetString(), Is.EqualTo(Issuer));
            Assert.That(ev.GetProperty("subject").GetProperty("jti").GetString(), Is.EqualTo("lease_1"));
            Assert.That(ev.GetProperty("event_timestamp").GetInt64(), Is.EqualTo(T0.ToUnixTimeSeconds()));
            Assert.That(payload.GetProperty("events").EnumerateObject().Count(), Is.EqualTo(1));
        });

        var result = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            IssuerSigningKeys = new JsonWebKeySet(JwksDocument.Build(keys)).GetSigningKeys(), ValidIssuer = Issuer, ValidAudience = "https://tickets.example",
            ValidateLifetime = false, RequireExpirationTime = false, ValidTypes = ["secevent+jwt"],
        });
        Assert.That(result.IsValid, Is.True, result.Exception?.Message);
    }

    [Test]
    public void A_verification_set_names_the_stream_and_carries_the_state()
    {
        using var keys = new StaticSigningKeyProvider(SigningKey.Generate());
        var signal = Revoked() with { EventType = SignalEventTypes.Verification, Subject = "state-9" };
        var (_, payload) = Decode(new SecurityEventTokens(keys, Issuer).Sign(signal, T0));
        Assert.That(payload.GetProperty("sub_id").GetProperty("id").GetString(), Is.EqualTo("ssf_1"));
        Assert.That(payload.GetProperty("events").GetProperty(SignalEventTypes.Verification).GetProperty("state").GetString(), Is.EqualTo("state-9"));
    }

    private static Lease LeaseFor(string id, string audience, DateTimeOffset expires) => new()
    {
        LeaseId = id, TaskId = "t", AgentId = "a", IssuerKind = "jwt", BackendHandle = id, Scope = new GrantedScope(audience, "act", [], []),
        IssuedAt = T0.AddMinutes(-1), ExpiresAt = expires, CredentialFingerprint = "f",
    };

    private static SignalStream Stream(string id, string audience, string status = StreamStatus.Enabled) => new()
    {
        StreamId = id, Owner = "o", Audiences = [audience], EndpointUrl = "https://r/e", EventsRequested = [SignalEventTypes.SessionRevoked], CreatedAt = T0, Status = status,
    };

    [Test]
    public async Task The_fanout_queues_one_set_per_live_credential_for_each_stream_of_its_audience_only()
    {
        var outbox = new InMemorySignalOutbox();
        await outbox.PutStreamAsync(Stream("s_tickets", "https://tickets.example"));
        await outbox.PutStreamAsync(Stream("s_crm", "https://crm.example"));
        await outbox.PutStreamAsync(Stream("s_off", "https://tickets.example", StreamStatus.Disabled));
        using var wakeup = new SignalDeliveryWakeup();

        await new SignalFanout(outbox, wakeup).RevokedAsync(
            [LeaseFor("lease_live", "https://tickets.example", T0.AddMinutes(1)), LeaseFor("lease_expired", "https://tickets.example", T0)], T0);

        var tickets = await outbox.ClaimAsync("s_tickets", 10, T0, TimeSpan.FromSeconds(1));
        Assert.That(tickets.Select(s => s.Subject), Is.EqualTo(new[] { "lease_live" }), "an expired credential (the sweeper's TTL path) gets no SET");
        Assert.That(tickets[0].Audience, Is.EqualTo("https://tickets.example"));
        Assert.That((await outbox.StatsAsync("s_crm")).Pending, Is.Zero, "another audience's stream hears nothing");
        Assert.That((await outbox.StatsAsync("s_off")).Pending, Is.Zero, "a disabled stream is not queued for");
    }

    [Test]
    public async Task The_kill_switchs_subject_level_set_names_the_agent_as_iss_sub_for_every_audience_of_every_active_stream()
    {
        var outbox = new InMemorySignalOutbox();
        await outbox.PutStreamAsync(Stream("s_tickets", "https://tickets.example"));
        await outbox.PutStreamAsync(Stream("s_off", "https://tickets.example", StreamStatus.Disabled));
        using var wakeup = new SignalDeliveryWakeup();
        await new SignalFanout(outbox, wakeup).SubjectsRevokedAsync(["spiffe://t/agents/rogue"], T0.AddMilliseconds(900));

        var queued = await outbox.ClaimAsync("s_tickets", 10, T0.AddSeconds(1), TimeSpan.FromSeconds(1));
        Assert.That(queued, Has.Count.EqualTo(1));
        Assert.That((await outbox.StatsAsync("s_off")).Pending, Is.Zero);
        using var keys = new StaticSigningKeyProvider(SigningKey.Generate());
        var (_, payload) = Decode(new SecurityEventTokens(keys, Issuer).Sign(queued[0], T0.AddSeconds(2)));
        var subject = payload.GetProperty("sub_id");
        Assert.Multiple(() =>
        {
            Assert.That(subject.GetProperty("format").GetString(), Is.EqualTo("iss_sub"));
            Assert.That(subject.GetProperty("iss").GetString(), Is.EqualTo(Issuer));
            Assert.That(subject.GetProperty("sub").GetString(), Is.EqualTo("spiffe://t/agents/rogue"));
            Assert.That(subject.TryGetProperty("jti", out _), Is.False);
            Assert.That(payload.GetProperty("aud").GetString(), Is.EqualTo("https://tickets.example"));
            Assert.That(payload.GetProperty("events").GetProperty(SignalEventTypes.SessionRevoked).GetProperty("event_timestamp").GetInt64(),
                Is.EqualTo(T0.ToUnixTimeSeconds()), "whole seconds, rounded down, to compare with the tokens' iat");
        });
    }
}
