using NUnit.Framework;

namespace JitBroker.Attestation.Tests;

/// <summary>The buffer a token's decoded bytes live in: pooled, so it must go back empty — it held a bearer token.</summary>
[TestFixture]
public sealed class TokenValidationContextTests
{
    [Test]
    public void The_rented_buffer_is_cleared_when_the_context_is_disposed()
    {
        var context = new TokenValidationContext("a.b.c".AsMemory(), DateTimeOffset.UnixEpoch);
        var buffer = context.RentBuffer(64);
        buffer.AsSpan().Fill(0x41);

        context.Dispose();

        Assert.That(buffer.AsSpan().IndexOfAnyExcept((byte)0), Is.EqualTo(-1), "no byte of the token is left for the pool's next renter");
        Assert.DoesNotThrow(context.Dispose, "disposing twice returns the buffer once");
    }

    [Test]
    public void A_context_owns_one_buffer()
    {
        using var context = new TokenValidationContext("a.b.c".AsMemory(), DateTimeOffset.UnixEpoch);
        _ = context.RentBuffer(16);
        Assert.Throws<InvalidOperationException>(() => context.RentBuffer(16));
    }
}
