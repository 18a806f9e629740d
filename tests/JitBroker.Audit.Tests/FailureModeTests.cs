using System.Text.RegularExpressions;
using JitBroker.Core;
using Microsoft.Extensions.Logging;
using Moq;
using NUnit.Framework;

namespace JitBroker.Audit.Tests;

public sealed class FailureModeTests
{
    private AuditFixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new AuditFixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    [Test]
    public async Task Fail_closed_is_the_default_and_throws_unavailable()
    {
        var sink = new InMemoryAuditSink();
        await using var log = _f.Log(_f.Options(), sink);
        await log.AppendAsync(AuditFixture.Issued(1));
        sink.FailWrites = true;

        var error = Assert.ThrowsAsync<BrokerException>(async () => await log.AppendAsync(AuditFixture.Issued(2)));
        Assert.That((error!.Failure, error.Reason), Is.EqualTo((BrokerFailure.Unavailable, "audit.unavailable")));
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task Fail_open_logs_the_dropped_event_and_returns(bool failFromStart)
    {
        var logger = new Mock<ILogger<AuditLog>>();
        logger.Setup(l => l.IsEnabled(It.IsAny<LogLevel>())).Returns(true);
        var sink = new InMemoryAuditSink { FailWrites = failFromStart };
        await using var log = _f.Log(_f.Options(failOpen: true), sink, logger.Object);
        if (!failFromStart)
        {
            await log.AppendAsync(AuditFixture.Issued(1));
            sink.FailWrites = true;
        }

        var dropped = AuditFixture.Issued(2);
        await log.AppendAsync(dropped); // no exception

        logger.Verify(l => l.Log(LogLevel.Error, It.Is<EventId>(e => e.Id == 4003 && e.Name == "AuditEventDropped"),
            It.Is<It.IsAnyType>((state, _) => state!.ToString()!.Contains(dropped.LeaseId!, StringComparison.Ordinal)),
            It.IsAny<BrokerException>(), It.IsAny<Func<It.IsAnyType, Exception?, string>>()), Times.Once);
        Assert.That(sink.Records.Any(r => r.GetString(AuditFields.LeaseId) == dropped.LeaseId), Is.False);
    }

    [Test]
    public async Task Appends_after_dispose_fail_closed()
    {
        var log = _f.Log(_f.Options(), new InMemoryAuditSink());
        await log.AppendAsync(AuditFixture.Issued(1));
        await log.DisposeAsync();
        var error = Assert.ThrowsAsync<BrokerException>(async () => await log.AppendAsync(AuditFixture.Issued(2)));
        Assert.That(error!.Reason, Is.EqualTo(Reasons.Audit.Unavailable));
    }

    [Test]
    public async Task No_secret_or_token_shaped_string_ever_reaches_the_file()
    {
        const string jwt = "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJhZ2VudCJ9.c2lnbmF0dXJlLWJ5dGVz";
        const string vault = "hvs.CAESIJ1xZ2l2ZW5vdGFyZWFsdG9rZW5fYWJjZGVm";
        const string pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----";
        await using (var log = _f.Log(_f.Options()))
        {
            await log.AppendAsync(AuditFixture.Issued(1));
            await log.AppendAsync(new AuditEvent
            {
                Type = AuditEventTypes.RequestDenied,
                AgentId = AuditFixture.Agent,
                Intent = new TaskIntent("deploy", "use token " + jwt, [], [], new Dictionary<string, string> { ["auth"] = "Bearer " + vault }),
                CredentialFingerprint = jwt, // a caller bug: the raw credential instead of its fingerprint
                Detail = "operator pasted " + pem,
                Reason = "policy.denied",
            });
        }

        var text = File.ReadAllText(_f.LogPath);
        Assert.That(text, Does.Not.Contain(jwt).And.Not.Contain(vault).And.Not.Contain("BEGIN PRIVATE KEY").And.Not.Contain("credential-1"));
        Assert.That(Regex.IsMatch(text, @"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\."), Is.False, "no JWS/JWT-shaped string");
        Assert.That(Regex.IsMatch(text, @"\bhv[sbr]\.[A-Za-z0-9_-]{20,}"), Is.False, "no Vault token");
        Assert.That(text, Does.Contain("[redacted " + Fingerprints.Of(jwt) + "]"), "redactions stay correlatable by fingerprint");
        var fingerprints = File.ReadAllLines(_f.LogPath).Select(AuditRecord.Parse)
            .Select(r => r.GetString(AuditFields.CredentialFingerprint)).OfType<string>().ToList();
        Assert.That(fingerprints, Has.Count.EqualTo(2).And.All.Match("^sha256:[0-9a-f]{64}$"));
        Assert.That((await _f.VerifyAsync()).Ok, Is.True, "redaction happens before hashing");
    }

    [Test]
    public async Task Oversized_strings_are_cut_and_keep_the_fingerprint_of_the_whole()
    {
        var huge = new string('x', 100_000);
        var sink = new InMemoryAuditSink();
        await using (var log = _f.Log(_f.Options(), sink))
        {
            await log.AppendAsync(new AuditEvent { Type = AuditEventTypes.PolicyReloaded, Detail = huge });
        }

        var detail = sink.Records[0].GetString(AuditFields.Detail)!;
        Assert.That(detail, Has.Length.LessThan(8300));
        Assert.That(detail, Does.EndWith("…[truncated " + Fingerprints.Of(huge) + "]"));
    }
}
