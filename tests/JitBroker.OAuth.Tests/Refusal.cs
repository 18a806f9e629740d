using NUnit.Framework;

namespace JitBroker.OAuth.Tests;

/// <summary>Asserts a refusal by its protocol error and reason code, and that the description is safe to send.</summary>
internal static class Refusal
{
    public static OAuthProtocolException Expect(Action action, string error, string reason)
    {
        var refusal = Assert.Throws<OAuthProtocolException>(action)!;
        Assert.Multiple(() =>
        {
            Assert.That(refusal.Reason, Is.EqualTo(reason), refusal.Description);
            Assert.That(refusal.Error, Is.EqualTo(error));
            Assert.That(refusal.Description, Does.Match("^[\\x20-\\x21\\x23-\\x5B\\x5D-\\x7E]*$"));
        });
        return refusal;
    }

    public static Task<OAuthProtocolException> ExpectAsync(Func<Task> action, string error, string reason)
    {
        var refusal = Assert.ThrowsAsync<OAuthProtocolException>(action)!;
        Assert.Multiple(() =>
        {
            Assert.That(refusal.Reason, Is.EqualTo(reason), refusal.Description);
            Assert.That(refusal.Error, Is.EqualTo(error));
        });
        return Task.FromResult(refusal);
    }
}
