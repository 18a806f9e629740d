using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Moq;
using NUnit.Framework;

namespace JitBroker.OAuth.Tests;

/// <summary>A validator on a fake clock with a strict replay-store mock, and an ES256 key making good proofs by default.</summary>
public abstract class DpopTestBase
{
    protected static readonly DateTimeOffset Now = new(2026, 12, 3, 8, 0, 0, TimeSpan.Zero);
    protected static readonly Uri TokenEndpoint = new("https://broker.example/oauth/token");

    internal ProofKey Key { get; private set; } = null!;

    protected FakeTimeProvider Time { get; private set; } = null!;

    protected Mock<IDpopReplayStore> Replay { get; private set; } = null!;

    protected DpopValidationOptions Options { get; private set; } = null!;

    [SetUp]
    public void SetUpValidator()
    {
        Time = new FakeTimeProvider(Now);
        Replay = new Mock<IDpopReplayStore>(MockBehavior.Strict);
        Replay.Setup(r => r.TryRecordAsync(It.IsAny<string>(), It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>()))
            .Returns(() => ValueTask.FromResult(true));
        Options = new DpopValidationOptions();
        Key = ProofKey.Create("ES256");
    }

    [TearDown]
    public void TearDownKey() => Key.Dispose();

    protected static JsonObject Payload() => new()
    {
        ["jti"] = Guid.NewGuid().ToString(), ["htm"] = "POST", ["htu"] = TokenEndpoint.ToString(), ["iat"] = Now.ToUnixTimeSeconds(),
    };

    protected string GoodProof() => Key.Sign(Key.Header(), Payload());

    protected string ProofWithHeader(string member, JsonNode? value)
    {
        var header = Key.Header();
        Set(header, member, value);
        return Key.Sign(header, Payload());
    }

    protected string ProofWithPayload(string member, JsonNode? value)
    {
        var payload = Payload();
        Set(payload, member, value);
        return Key.Sign(Key.Header(), payload);
    }

    protected ValueTask<DpopProof> Validate(string proof, DpopRequest? request = null) =>
        new DpopProofValidator(Options, Replay.Object, Time).ValidateAsync(proof, request ?? new DpopRequest("POST", TokenEndpoint));

    /// <summary>Refused with the reason, and — unless the refusal is the replay itself — without consuming the jti.</summary>
    protected async Task Refused(string proof, string reason, DpopRequest? request = null)
    {
        await Refusal.ExpectAsync(async () => await Validate(proof, request), OAuthErrors.InvalidDpopProof, reason);
        if (reason != OAuthReasons.DpopProofReplayed)
        {
            Replay.Verify(r => r.TryRecordAsync(It.IsAny<string>(), It.IsAny<DateTimeOffset>(), It.IsAny<CancellationToken>()), Times.Never);
        }
    }

    // JsonNode.Parse("null") is null: a value of null removes the member; JsonValue.Create((string?)null) is not used.
    private static void Set(JsonObject target, string member, JsonNode? value)
    {
        if (value is null)
        {
            target.Remove(member);
        }
        else
        {
            target[member] = value;
        }
    }
}
