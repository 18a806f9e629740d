using System.Collections.Concurrent;
using Grpc.Health.V1;

namespace JitBroker.Wire;

/// <summary>
/// <c>grpc.health.v1.Health/Check</c> per grpc doc/health-checking.md: exact-match lookup of the requested
/// service name, <c>""</c> meaning the whole server (SERVING from construction); an unregistered name is
/// answered NOT_FOUND. <c>Watch</c> (server streaming) is not offered, so it answers UNIMPLEMENTED.
/// Thread-safe: statuses may change while calls are served.
/// </summary>
public sealed class GrpcHealthService
{
    /// <summary>The service name in the health protocol.</summary>
    public const string ServiceName = "grpc.health.v1.Health";

    private readonly ConcurrentDictionary<string, HealthCheckResponse.Types.ServingStatus> _statuses = new(StringComparer.Ordinal);

    /// <summary>Creates the service with the whole server (<c>""</c>) SERVING.</summary>
    public GrpcHealthService() => _statuses[string.Empty] = HealthCheckResponse.Types.ServingStatus.Serving;

    /// <summary>Sets (or registers) the status of a service; <c>""</c> is the whole server.</summary>
    public void SetStatus(string service, HealthCheckResponse.Types.ServingStatus status)
    {
        ArgumentNullException.ThrowIfNull(service);
        _statuses[service] = status;
    }

    /// <summary>Adds <c>Check</c> to the registry.</summary>
    public void Register(GrpcServiceRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.AddUnary<HealthCheckRequest, HealthCheckResponse>(ServiceName, "Check", HealthCheckRequest.Parser, CheckAsync);
    }

    private Task<HealthCheckResponse> CheckAsync(HealthCheckRequest request, ServerCallContext context)
    {
        if (!_statuses.TryGetValue(request.Service, out var status))
        {
            throw new RpcException(StatusCode.NotFound, "Unknown service.");
        }

        return Task.FromResult(new HealthCheckResponse { Status = status });
    }
}
