using System.Reflection;
using JitBroker.Core;
using NUnit.Framework;
// The reason-code catalogue of attestation: the one name to change if the catalogue moves.
using Catalogue = JitBroker.Core.Reasons.Attestation;

namespace JitBroker.Attestation.Tests.Conformance;

/// <summary>
/// The contract of <see cref="IWorkloadAttestor"/>, run against every attestor: subclass it and say how to build
/// valid, expired, untrusted and malformed evidence of the attestor's kind. An attestor reports facts about the
/// evidence and never decides what the workload may do; anything it cannot verify is refused at the boundary with
/// <see cref="BrokerFailure.Unauthenticated"/> and a reason code from the attestation catalogue.
/// </summary>
public abstract class WorkloadAttestorConformanceTests
{
    private static readonly HashSet<string> Catalogued = [.. typeof(Catalogue)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(string))
        .Select(f => (string)f.GetRawConstantValue()!)];

    private IWorkloadAttestor? _attestor;

    protected IWorkloadAttestor Attestor => _attestor ?? throw new InvalidOperationException("SetUp did not run.");

    /// <summary>A fresh attestor trusting the fixture's authorities; called before every test.</summary>
    protected abstract Task<IWorkloadAttestor> CreateAttestorAsync();

    /// <summary>Releases the attestor and the fixture's servers and files.</summary>
    protected abstract Task DestroyAsync();

    /// <summary>Evidence, valid now, that proves <paramref name="workload"/> (a SPIFFE ID or a token subject).</summary>
    protected abstract AttestationEvidence Valid(string workload);

    /// <summary>The identity id the attestor must report for <see cref="Valid"/> evidence of <paramref name="workload"/>.</summary>
    protected abstract string IdOf(string workload);

    /// <summary>A workload the fixture's authorities may vouch for; <see cref="OtherWorkload"/> is one no policy has heard of.</summary>
    protected abstract string Workload { get; }

    protected abstract string OtherWorkload { get; }

    /// <summary>Evidence of this kind whose validity period is over.</summary>
    protected abstract AttestationEvidence Expired();

    /// <summary>Evidence of this kind that no configured authority vouches for (a look-alike signer or CA).</summary>
    protected abstract AttestationEvidence Untrusted();

    /// <summary>Evidence of this kind that cannot be parsed as what it claims to be.</summary>
    protected abstract AttestationEvidence Malformed();

    /// <summary>Evidence of this kind with the identity part empty.</summary>
    protected abstract AttestationEvidence Empty();

    /// <summary>Evidence carrying this attestor's kind plus a second identity of another kind.</summary>
    protected abstract AttestationEvidence Ambiguous();

    [SetUp]
    public async Task CreateAttestor() => _attestor = await CreateAttestorAsync();

    [TearDown]
    public async Task Destroy()
    {
        await DestroyAsync();
        _attestor = null;
    }

    [Test]
    public async Task Valid_evidence_yields_a_well_formed_identity_of_this_method()
    {
        var evidence = Valid(Workload);

        var identity = await Attestor.AttestAsync(evidence);

        Assert.Multiple(() =>
        {
            Assert.That(Attestor.Accepts(evidence), Is.True, "the attestor must route its own evidence to itself");
            Assert.DoesNotThrow(identity.EnsureWellFormed);
            Assert.That(identity.Method, Is.EqualTo(Attestor.Method));
            Assert.That(identity.Id, Is.EqualTo(IdOf(Workload)));
            Assert.That(identity.EvidenceFingerprint, Does.StartWith("sha256:"));
            Assert.That(identity.EvidenceExpiresAt, Is.Not.Null, "every evidence of these kinds expires; the broker bounds credentials by it");
        });
    }

    [Test]
    public async Task The_identity_carries_facts_about_the_evidence_and_never_the_evidence_itself()
    {
        var evidence = Valid(Workload);

        var identity = await Attestor.AttestAsync(evidence);

        var secret = evidence.BearerToken ?? Convert.ToBase64String(evidence.ClientCertificate!.RawData);
        var reported = identity.Facts.Keys.Concat(identity.Facts.Values)
            .Append(identity.Id).Append(identity.TrustDomain).Append(identity.EvidenceFingerprint)
            .Append(identity.EvidenceId ?? "").Append(identity.ReplayKey ?? "").Append(identity.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(identity.Facts, Is.Not.Empty, "policy matches on facts");
            Assert.That(reported, Has.None.Contains(secret), "the evidence is used, never kept");
        });
    }

    [Test]
    public async Task A_workload_no_policy_has_heard_of_is_still_attested_because_deciding_is_policy_s_job()
    {
        var known = await Attestor.AttestAsync(Valid(Workload));
        var stranger = await Attestor.AttestAsync(Valid(OtherWorkload));

        Assert.Multiple(() =>
        {
            Assert.That(stranger.Id, Is.EqualTo(IdOf(OtherWorkload)));
            Assert.That(stranger.Facts.Keys, Is.EquivalentTo(known.Facts.Keys), "the same kind of evidence yields the same kind of facts");
        });
    }

    [Test]
    public void No_evidence_at_all_is_refused_and_not_claimed()
    {
        var nothing = new AttestationEvidence(null);

        Assert.That(Attestor.Accepts(nothing), Is.False);
        AssertRefused(nothing);
    }

    [Test]
    public void Empty_evidence_is_refused_and_not_claimed()
    {
        var empty = Empty();

        Assert.That(Attestor.Accepts(empty), Is.False);
        AssertRefused(empty);
    }

    [Test]
    public void Malformed_evidence_is_refused_with_a_catalogued_reason() => AssertRefused(Malformed());

    [Test]
    public void Expired_evidence_is_refused_with_a_catalogued_reason() => AssertRefused(Expired());

    [Test]
    public void Evidence_no_configured_authority_vouches_for_is_refused() => AssertRefused(Untrusted());

    [Test]
    public void Two_identities_at_once_are_refused_as_ambiguous()
    {
        var ex = AssertRefused(Ambiguous());

        Assert.That(ex.Reason, Is.EqualTo(Catalogue.EvidenceAmbiguous));
    }

    [TestCase("a.b")]
    [TestCase(".....")]
    [TestCase("e30.e30.")]
    [TestCase("bm90IGpzb24.bm90IGpzb24.c2ln")]
    [TestCase("huge")]
    public void Junk_is_neither_claimed_with_an_exception_nor_attested(string junk)
    {
        var evidence = new AttestationEvidence(junk == "huge" ? new string('x', 1_000_000) : junk);

        Assert.DoesNotThrow(() => Attestor.Accepts(evidence), "routing looks, it never throws");
        AssertRefused(evidence);
    }

    [Test]
    public void A_cancelled_call_is_cancelled_not_refused()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.CatchAsync<OperationCanceledException>(async () => await Attestor.AttestAsync(Valid(Workload), cancelled.Token));
    }

    /// <summary>Refused as unauthenticated with a catalogued reason and a message that does not echo the evidence.</summary>
    private BrokerException AssertRefused(AttestationEvidence evidence)
    {
        var thrown = Assert.CatchAsync(async () => await Attestor.AttestAsync(evidence));

        Assert.That(thrown, Is.TypeOf<BrokerException>(), "bad evidence is refused, never an unhandled error: " + thrown);
        var ex = (BrokerException)thrown!;
        Assert.Multiple(() =>
        {
            Assert.That(ex.Failure, Is.EqualTo(BrokerFailure.Unauthenticated));
            Assert.That(Catalogued, Does.Contain(ex.Reason), "reason codes are a public contract: only catalogued ones");
            if (evidence.BearerToken is { Length: > 16 } token)
            {
                Assert.That(ex.Message, Does.Not.Contain(token));
            }
        });
        return ex;
    }
}
