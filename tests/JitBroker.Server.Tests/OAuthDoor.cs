using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace JitBroker.Server.Tests;

/// <summary>
/// A test broker whose OAuth door has a real issuer URL (the HTTP listener on a port chosen before start-up, so the
/// issuer and every endpoint URL in the metadata are the ones the client reaches), and helpers to call it.
/// </summary>
internal static class OAuthDoor
{
    public const string JwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    public const string TokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange";

    /// <summary>A broker whose issuer is its HTTP listener's real URL (<see cref="OAuthBroker.StartAsync"/>).</summary>
    public static Task<BrokerServerFixture> StartAsync(IDictionary<string, string?>? overrides = null) => OAuthBroker.StartAsync(overrides);

    public static string Issuer(BrokerServerFixture broker) => broker.HttpUri.GetLeftPart(UriPartial.Authority);

    /// <summary>A JWT-SVID addressed to the OAuth door (RFC 7523 §3: the issuer) rather than to the gRPC audience.</summary>
    public static string Assertion(BrokerServerFixture broker, string spiffeId, TimeSpan? ttl = null) =>
        broker.Dev.MintSvid(spiffeId, Issuer(broker), ttl ?? TimeSpan.FromMinutes(5));

    public static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> PostAsync(HttpClient http, BrokerServerFixture broker,
        string path, IEnumerable<KeyValuePair<string, string>> form, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Issuer(broker) + path) { Content = new FormUrlEncodedContent(form) };
        configure?.Invoke(request);
        var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var body = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return (response.StatusCode, body, response);
    }

    public static Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> TokenAsync(HttpClient http, BrokerServerFixture broker,
        params (string Name, string Value)[] form) =>
        PostAsync(http, broker, "/oauth2/token", form.Select(p => KeyValuePair.Create(p.Name, p.Value)));

    public static int FreePort() => OAuthBroker.FreePort();
}
