using NUnit.Framework;

namespace JitBroker.Vault.Tests;

/// <summary>Who disposes the HTTP handler: the client only disposes one it made itself (found by CA2000).</summary>
public sealed class VaultHttpClientOwnershipTests
{
    [Test]
    public void A_lent_handler_is_not_disposed_with_the_client()
    {
        using var handler = new TrackingHandler();
        new VaultHttpClient(new VaultOptions { Address = new Uri("http://127.0.0.1:8200") }, handler: handler).Dispose();
        Assert.That(handler.Disposed, Is.False, "the lender still owns it");
    }

    private sealed class TrackingHandler : HttpMessageHandler
    {
        public bool Disposed { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.OK));

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }
}
