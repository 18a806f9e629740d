using NUnit.Framework;

namespace JitBroker.Core.Tests;

/// <summary>
/// Golden values of the request hashes: approvals and bound-mode replay records compare them across versions and
/// replicas, so the canonical form must never drift. Expected values come from an independent Python rendering of the
/// canonical form (UTF-16 lengths, UTF-8 bytes, context sorted by ordinal key), not from this code.
/// </summary>
public sealed class RequestHashTests
{
    [TestCase("spiffe://dev.jitbroker.local/agents/support-bot", "bench-32-7", "sha256:a4c9da1cdb9c4dc36de85ba81fd1551d86862a392323cc89e12996e75d4d526d")]
    [TestCase("", "", "sha256:fe398efe8c1aa1ff04919e68d25258f3e3a6ea1b2600b172029a021a77255e34")]
    [TestCase("spiffe://example.org/agents/größe", "task-\U0001F600-ünï", "sha256:21f8b617c2963976998e7dc39f97b14aaff3e24489b04fbd93c217af4e830ce0")]
    public void ForTask_is_stable(string agentId, string taskId, string expected) =>
        Assert.That(RequestHash.ForTask(agentId, taskId), Is.EqualTo(expected));

    [Test]
    public void ForTask_of_a_long_id_is_stable_past_any_stack_buffer() =>
        Assert.That(RequestHash.ForTask("spiffe://example.org/agents/" + new string('ü', 3000), "t"),
            Is.EqualTo("sha256:7535f27405e67d9bec07a6f5eaf6c7615457c601c14ce3efff4b9b17e8a4c5f5"));

    [Test]
    public void Of_a_request_with_many_tools_is_stable_past_any_stack_buffer()
    {
        var request = new CredentialRequest("t",
            new TaskIntent("x.y", "p", [.. Enumerable.Range(0, 200).Select(i => $"tool-{i}")], ["r"], new Dictionary<string, string>()),
            "jwt", "aud", TimeSpan.FromMinutes(1));
        Assert.That(RequestHash.Of("a", request), Is.EqualTo("sha256:4d50656703d8d361bd3eaf672b617bca41e9fae68bd75a374145f58ffa462805"));
    }

    [Test]
    public void Of_is_stable_with_unsorted_context_and_non_ascii_text()
    {
        var request = new CredentialRequest("task-42",
            new TaskIntent("repo.read", "review PR 7", ["github.search", "github.read_file"], ["repo:acme/widgets", "docs/ü.md"],
                new Dictionary<string, string> { ["zeta"] = "1", ["Alpha"] = "ä", ["alpha"] = "2" }),
            "jwt", "https://tools.example/github", TimeSpan.FromMinutes(5));
        Assert.That(RequestHash.Of("spiffe://example.org/agents/reviewer", request),
            Is.EqualTo("sha256:0cf9f39a6de5e24ea74a285bf0b0e02d2e50fac6a7c6708a7a402ad486febbef"));
    }

    [Test]
    public void Of_is_stable_for_an_empty_request_without_ttl()
    {
        var request = new CredentialRequest("t", new TaskIntent("x.y", "", [], [], new Dictionary<string, string>()), "", "", null);
        Assert.That(RequestHash.Of("a", request), Is.EqualTo("sha256:067194b7a1ae600ccaf6ac530827193ab41d2f97cdfa3b6ceb974e399faf0ae7"));
    }

    [Test]
    public void Of_is_stable_with_surrogate_pairs_and_sub_second_ttl()
    {
        var request = new CredentialRequest("t",
            new TaskIntent("act", "p", ["t1"], ["r1"], new Dictionary<string, string> { ["k"] = "v\U0001F600" }),
            "vault", "", TimeSpan.FromMilliseconds(1500));
        Assert.That(RequestHash.Of("spiffe://example.org/agents/\U0001F600", request),
            Is.EqualTo("sha256:97fc3e9f77c0e88ea256a210f74bc5e29e464bcc0573cc4c6a71b3eac4dc9c3a"));
    }
}
