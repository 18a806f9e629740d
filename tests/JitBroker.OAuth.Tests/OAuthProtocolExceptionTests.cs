using NUnit.Framework;

namespace JitBroker.OAuth.Tests;

public sealed class OAuthProtocolExceptionTests
{
    [Test]
    public void The_description_keeps_the_error_description_charset()
    {
        var refusal = new OAuthProtocolException(OAuthErrors.InvalidRequest, OAuthReasons.FormBadUtf8, "ok \"quoted\" back\\slash é\r\n\0 ~!");
        Assert.That(refusal.Description, Is.EqualTo("ok ?quoted? back?slash ???? ~!"));
        Assert.That(refusal.Message, Is.EqualTo(refusal.Description));
    }

    [Test]
    public void The_description_is_capped_in_length() =>
        Assert.That(new OAuthProtocolException(OAuthErrors.InvalidRequest, "oauth.x", new string('a', 10_000)).Description, Has.Length.EqualTo(256));

    [Test]
    public void Error_and_reason_are_kept()
    {
        var refusal = new OAuthProtocolException(OAuthErrors.InvalidDpopProof, OAuthReasons.DpopProofReplayed, "replayed");
        Assert.That((refusal.Error, refusal.Reason), Is.EqualTo((OAuthErrors.InvalidDpopProof, OAuthReasons.DpopProofReplayed)));
    }

    [Test]
    public void Every_reason_code_is_unique_and_dotted_lowercase()
    {
        var codes = typeof(OAuthReasons).GetFields().Select(f => (string)f.GetRawConstantValue()!).ToList();
        Assert.That(codes, Is.Unique);
        Assert.That(codes, Has.All.Match("^(oauth|dpop)\\.[a-z][a-z0-9_]*$"));
    }
}
