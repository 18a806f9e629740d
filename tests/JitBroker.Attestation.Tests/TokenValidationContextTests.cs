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
    }

    [Test]
    public void Disposing_twice_returns_the_buffer_once()
    {
        var context = new TokenValidationContext("a.b.c".AsMemory(), DateTimeOffset.UnixEpoch);
        var buffer = context.RentBuffer(64);

        context.Dispose();
        context.Dispose();

        // Returned twice, the pool would hand the same array to two renters (this thread's slot, then the shared stack).
        var rented = Enumerable.Range(0, 4).Select(_ => System.Buffers.ArrayPool<byte>.Shared.Rent(64)).ToList();
        try
        {
            Assert.That(rented.Count(r => ReferenceEquals(r, buffer)), Is.LessThanOrEqualTo(1));
        }
        finally
        {
            rented.ForEach(r => System.Buffers.ArrayPool<byte>.Shared.Return(r));
        }
    }

    [Test]
    public void A_context_owns_one_buffer()
    {
        using var context = new TokenValidationContext("a.b.c".AsMemory(), DateTimeOffset.UnixEpoch);
        _ = context.RentBuffer(16);
        Assert.Throws<InvalidOperationException>(() => context.RentBuffer(16));
    }
}
