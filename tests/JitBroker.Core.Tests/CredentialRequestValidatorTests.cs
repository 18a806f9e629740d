using NUnit.Framework;
using JitBroker.Core;

namespace JitBroker.Core.Tests;

public sealed class CredentialRequestValidatorTests
{
    private static CredentialRequest Valid() =>
        new("task-1", new TaskIntent("tickets.create", "p", ["zendesk"], ["tickets/1"], new Dictionary<string, string> { ["risk"] = "low" }), "jwt", "https://t", null);

    private static IEnumerable<TestCaseData> Hostile()
    {
        var v = Valid();
        yield return new TestCaseData(v with { TaskId = "" }).SetName("empty task id");
        yield return new TestCaseData(v with { TaskId = new string('t', 129) }).SetName("task id too long");
        yield return new TestCaseData(v with { TaskId = "task 1" }).SetName("task id with space");
        yield return new TestCaseData(v with { TaskId = "task\u0000" }).SetName("task id with NUL");
        yield return new TestCaseData(v with { Intent = v.Intent with { Action = "" } }).SetName("empty action");
        yield return new TestCaseData(v with { Intent = v.Intent with { Action = "drop;table" } }).SetName("action with ;");
        yield return new TestCaseData(v with { Intent = v.Intent with { Purpose = new string('p', 1025) } }).SetName("purpose too long");
        yield return new TestCaseData(v with { Intent = v.Intent with { Tools = [.. Enumerable.Range(0, 33).Select(i => "t" + i)] } }).SetName("too many tools");
        yield return new TestCaseData(v with { Intent = v.Intent with { Tools = ["ok", ""] } }).SetName("empty tool");
        yield return new TestCaseData(v with { Intent = v.Intent with { Resources = [""] } }).SetName("empty resource");
        yield return new TestCaseData(v with { Intent = v.Intent with { Resources = ["a\nb"] } }).SetName("resource with newline");
        yield return new TestCaseData(v with { Intent = v.Intent with { Resources = [.. Enumerable.Range(0, 65).Select(i => "r" + i)] } }).SetName("too many resources");
        yield return new TestCaseData(v with { Intent = v.Intent with { Context = new Dictionary<string, string> { ["bad key"] = "v" } } }).SetName("context key with space");
        yield return new TestCaseData(v with { Target = "a\r\nb" }).SetName("target with CRLF");
        yield return new TestCaseData(v with { RequestedTtl = TimeSpan.FromSeconds(-5) }).SetName("negative ttl");
        // What a lenient UTF-8 decoder leaves of bytes that were not UTF-8 (issue 14 item 6): never matched against policy.
        yield return new TestCaseData(v with { Intent = v.Intent with { Resources = ["tickets/\uFFFD"] } }).SetName("resource decoded from invalid UTF-8");
        yield return new TestCaseData(v with { Intent = v.Intent with { Resources = ["tickets/\ud800"] } }).SetName("resource with an unpaired surrogate");
        yield return new TestCaseData(v with { Intent = v.Intent with { Context = new Dictionary<string, string> { ["ticket"] = "4\uFFFD2" } } }).SetName("context value decoded from invalid UTF-8");
        yield return new TestCaseData(v with { Target = "https://tickets.example/\uFFFD" }).SetName("target decoded from invalid UTF-8");
    }

    [Test]
    public void A_valid_request_passes() => Assert.DoesNotThrow(() => CredentialRequestValidator.Validate(Valid()));

    [TestCaseSource(nameof(Hostile))]
    public void Hostile_requests_are_invalid_argument(CredentialRequest request)
    {
        var ex = Assert.Throws<BrokerException>(() => CredentialRequestValidator.Validate(request));
        Assert.That(ex!.Failure, Is.EqualTo(BrokerFailure.InvalidArgument));
        Assert.That(ex.Reason, Is.EqualTo(Reasons.RequestInvalid));
    }
}
