using Grpc.Health.V1;
using JitBroker.Wire.Tests.Infrastructure;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace JitBroker.Wire.Tests;

/// <summary>grpc.health.v1.Health over the real server, per grpc doc/health-checking.md.</summary>
public sealed class HealthServiceTests : ServerTestBase
{
    private GrpcClient _client = null!;

    [SetUp]
    public void CreateClient() => _client = new GrpcClient(WireTestServer.Address);

    [TearDown]
    public void DisposeClient() => _client.Dispose();

    [Test]
    public async Task The_whole_server_is_SERVING_by_default()
    {
        var response = await CheckAsync(string.Empty);
        Assert.That(response.Status, Is.EqualTo(ServingStatus.Serving));
    }

    [Test]
    public async Task A_registered_service_reports_the_status_last_set()
    {
        WireTestServer.Health.SetStatus("jitbroker.v1.CredentialBroker", ServingStatus.NotServing);
        Assert.That((await CheckAsync("jitbroker.v1.CredentialBroker")).Status, Is.EqualTo(ServingStatus.NotServing));

        WireTestServer.Health.SetStatus("jitbroker.v1.CredentialBroker", ServingStatus.Serving);
        Assert.That((await CheckAsync("jitbroker.v1.CredentialBroker")).Status, Is.EqualTo(ServingStatus.Serving));
    }

    [Test]
    public void An_unknown_service_is_NOT_FOUND()
    {
        var ex = Assert.ThrowsAsync<RpcException>(() => CheckAsync("no.such.Service"));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.NotFound));
    }

    [Test]
    public void Watch_is_UNIMPLEMENTED()
    {
        var ex = Assert.ThrowsAsync<RpcException>(() =>
            _client.CallUnaryAsync(GrpcHealthService.ServiceName, "Watch", new HealthCheckRequest(), HealthCheckResponse.Parser));
        Assert.That(ex!.StatusCode, Is.EqualTo(StatusCode.Unimplemented));
    }

    private Task<HealthCheckResponse> CheckAsync(string service) =>
        _client.CallUnaryAsync(GrpcHealthService.ServiceName, "Check", new HealthCheckRequest { Service = service }, HealthCheckResponse.Parser);
}
