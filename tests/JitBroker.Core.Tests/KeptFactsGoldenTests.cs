using System.Collections.Frozen;
using System.Collections.Immutable;
using Moq;
using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>What a lease keeps of the identity and the intent, pinned value by value (AgentFacts.From, DecidedIntent.Keep).</summary>
public sealed class KeptFactsGoldenTests
{
    private static readonly TaskIntent Intent = new("repo.read", "review PR 7", ["t"], ["r"],
        new Dictionary<string, string> { ["env"] = "prod", ["ticket"] = "7", ["Env"] = "dev" });

    [Test]
    public void Agent_facts_are_the_identity_facts_plus_method_and_trust_domain_which_win()
    {
        var agent = new WorkloadIdentity
        {
            Id = "a", Method = "jwt-svid", TrustDomain = "example.org", EvidenceFingerprint = "sha256:00",
            Facts = new Dictionary<string, string> { ["spiffe_id"] = "a", ["method"] = "forged", ["x"] = "y" },
        };

        var facts = AgentFacts.From(agent);

        Assert.That(facts, Is.EquivalentTo(new Dictionary<string, string>
        {
            ["spiffe_id"] = "a", ["method"] = "jwt-svid", ["x"] = "y", ["trust_domain"] = "example.org",
        }));
        Assert.That(facts.ContainsKey("METHOD"), Is.False, "ordinal keys");
        Assert.That(agent.Facts["method"], Is.EqualTo("forged"), "the identity's own facts are not changed");
    }

    [Test]
    public void An_identity_without_facts_has_none_and_they_cannot_be_changed()
    {
        var first = new WorkloadIdentity { Id = "a", Method = "jwt-svid", TrustDomain = "example.org", EvidenceFingerprint = "sha256:00" };
        var second = first with { Id = "b" };

        Assert.That(first.Facts, Is.Empty);
        Assert.That(first.Facts is IDictionary<string, string> { IsReadOnly: false }, Is.False, "no caller can add a fact to an identity through a cast");
        Assert.That(AgentFacts.From(second), Is.EquivalentTo(new Dictionary<string, string> { ["method"] = "jwt-svid", ["trust_domain"] = "example.org" }));
    }

    /// <summary>The kept facts are a view over the identity's, read exactly like the dictionary a copy would make (the old way).</summary>
    [TestCase("spiffe_id,a;method,forged;x,y")]
    [TestCase("trust_domain,other.org;spiffe_id,a")]
    [TestCase("")]
    public void Agent_facts_read_as_the_copied_dictionary_would(string given)
    {
        var source = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in given.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            source[pair.Split(',')[0]] = pair.Split(',')[1];
        }

        var fixedFacts = new FixedFactDictionary([.. source.Keys], [.. source.Values]);
        foreach (var identityFacts in new IReadOnlyDictionary<string, string>[] { source, new System.Collections.ObjectModel.ReadOnlyDictionary<string, string>(source), fixedFacts })
        {
            var agent = new WorkloadIdentity { Id = "a", Method = "jwt-svid", TrustDomain = "example.org", EvidenceFingerprint = "sha256:00", Facts = identityFacts };
            var copied = new Dictionary<string, string>(source, StringComparer.Ordinal) { [AgentFacts.MethodKey] = "jwt-svid", [AgentFacts.TrustDomainKey] = "example.org" };

            var facts = AgentFacts.From(agent);

            Assert.Multiple(() =>
            {
                Assert.That(facts.ToList(), Is.EqualTo(copied.ToList()), "same pairs in the same order");
                Assert.That(facts.Keys, Is.EqualTo(copied.Keys));
                Assert.That(facts.Values, Is.EqualTo(copied.Values));
                Assert.That(facts, Has.Count.EqualTo(copied.Count));
                foreach (var (name, value) in copied)
                {
                    Assert.That(facts[name], Is.EqualTo(value));
                    Assert.That(facts.TryGetValue(name, out var read) ? read : null, Is.EqualTo(value));
                    Assert.That(facts.ContainsKey(name), Is.True);
                }

                Assert.That(facts.ContainsKey("absent") || facts.TryGetValue("absent", out _), Is.False);
                Assert.Throws<KeyNotFoundException>(() => _ = facts["absent"]);
                var names = new string[facts.Count];
                Assert.That(names.AsSpan(0, AgentFacts.CopyNames(facts, names)).ToArray(), Is.EqualTo(copied.Keys));
                Assert.That(AgentFacts.AnyText(facts, t => t == "example.org"), Is.True);
                Assert.That(AgentFacts.AnyText(facts, t => t.Contains('\u001f', StringComparison.Ordinal)), Is.False);
                Assert.That(AgentFacts.AnyText(facts, t => t is "forged" or "other.org"), Is.False, "a replaced fact's value is not in the view");
            });
        }
    }

    /// <summary>The JWT-SVID attestor's facts: a dictionary's answers, in the given order, that nobody can change afterwards.</summary>
    [Test]
    public void Fixed_facts_read_as_a_dictionary_and_cannot_be_changed()
    {
        ImmutableArray<string> names = ["spiffe_id", "trust_domain", "path"];
        string[] values = ["spiffe://example.org/a", "example.org", "/a"];
        var facts = new FixedFactDictionary(names, values);
        values[0] = "changed by the caller";

        Assert.Multiple(() =>
        {
            Assert.That(facts.ToList(), Is.EqualTo(new KeyValuePair<string, string>[] { new("spiffe_id", "spiffe://example.org/a"), new("trust_domain", "example.org"), new("path", "/a") }),
                "the values were copied: the caller's array changing later does not change the facts");
            Assert.That(facts.Keys, Is.EqualTo(names));
            Assert.That(facts["path"], Is.EqualTo("/a"));
            Assert.That(facts.ContainsKey("PATH") || facts.TryGetValue("Path", out _), Is.False, "ordinal names");
            Assert.Throws<KeyNotFoundException>(() => _ = facts["absent"]);
            Assert.Throws<ArgumentNullException>(() => facts.ContainsKey(null!));
            Assert.That((object)facts is IDictionary<string, string>, Is.False, "no caller can add a fact through a cast");
            Assert.That(facts.Keys is ICollection<string> { IsReadOnly: false }, Is.False, "nor change the names through the keys");
        });
    }

    [TestCase(new[] { "a", "b" }, new[] { "1" }, TestName = "Fixed facts refuse fewer values than names")]
    [TestCase(new[] { "a", "a" }, new[] { "1", "2" }, TestName = "Fixed facts refuse a name given twice")]
    [TestCase(new[] { "a", null }, new[] { "1", "2" }, TestName = "Fixed facts refuse a null name")]
    [TestCase(new[] { "a", "b" }, new[] { "1", null }, TestName = "Fixed facts refuse a null value")]
    public void Fixed_facts_refuse_what_a_dictionary_could_not_hold(string[] names, string[] values) =>
        Assert.Throws<ArgumentException>(() => _ = new FixedFactDictionary([.. names], values));

    [Test]
    public void A_policy_that_reads_nothing_keeps_none()
    {
        Assert.That(DecidedIntent.Keep(Intent, new Reads(IntentInputs.Nothing)), Is.SameAs(DecidedIntent.None));
        Assert.That(DecidedIntent.Keep(Intent with { Purpose = "" }, new Reads(new IntentInputs(true, FrozenSet<string>.Empty))),
            Is.SameAs(DecidedIntent.None));
    }

    [Test]
    public void The_purpose_alone_is_kept_with_an_empty_context()
    {
        var kept = DecidedIntent.Keep(Intent, new Reads(new IntentInputs(true, FrozenSet<string>.Empty)));
        Assert.That(kept.Purpose, Is.EqualTo("review PR 7"));
        Assert.That(kept.Context, Is.Empty);
    }

    [Test]
    public void Only_the_context_keys_read_are_kept_ordinally()
    {
        var kept = DecidedIntent.Keep(Intent, new Reads(new IntentInputs(false, new[] { "env", "absent" }.ToFrozenSet())));
        Assert.That(kept.Purpose, Is.EqualTo(""));
        Assert.That(kept.Context, Is.EquivalentTo(new Dictionary<string, string> { ["env"] = "prod" }));
        Assert.That(kept.Context.ContainsKey("ENV"), Is.False);
    }

    [Test]
    public void An_engine_that_cannot_say_makes_the_lease_keep_everything()
    {
        var kept = DecidedIntent.Keep(Intent, Mock.Of<IPolicyEngine>());
        Assert.That(kept.Purpose, Is.EqualTo("review PR 7"));
        Assert.That(kept.Context, Is.EquivalentTo(Intent.Context));
    }

    private sealed class Reads(IntentInputs inputs) : IPolicyEngine, IPolicyIntentInputs
    {
        public IntentInputs IntentInputs => inputs;

        public PolicyDecision Decide(WorkloadIdentity agent, CredentialRequest request) => throw new NotSupportedException();
    }
}
