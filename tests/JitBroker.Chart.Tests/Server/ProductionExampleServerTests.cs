using System.Net;
using System.Text.Json.Nodes;
using Grpc.Health.V1;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Chart.Tests.Server;

/// <summary>
/// The documented HA example (examples/production-sentinel-vault.yaml) starts: Redis through a real Sentinel
/// with an ACL user and both passwords from Secrets, SPIFFE bundles from a ConfigMap, a projected token and a CA
/// for Vault. No Vault server can run here, so readiness must name exactly "vault" — Redis via Sentinel is fine.
/// </summary>
public sealed class ProductionExampleServerTests
{
    private const string RedisPassword = "acl-user-pw";
    private const string SentinelPassword = "sentinel-pw";

    [Test]
    public async Task The_sentinel_vault_spiffe_example_starts_and_only_vault_is_unready()
    {
        await using var master = await RedisServerProcess.StartServerAsync();
        Assert.That(await master.RawCommandAsync($"ACL SETUSER jitbroker on >{RedisPassword} ~jitbroker:* +@all"), Is.EqualTo("+OK"));
        await using var sentinel = await RedisServerProcess.StartSentinelAsync(master.Port, "mymaster");
        Assert.That(await sentinel.RawCommandAsync($"ACL SETUSER default resetpass >{SentinelPassword}"), Is.EqualTo("+OK"));

        var values = Values.Effective(RepoPaths.Example("production-sentinel-vault.yaml"));
        Assert.That(SchemaValidator.Validate(values), Is.Empty);
        values["config"]!["Redis"]!["SentinelEndpoints"] = new JsonArray(JsonValue.Create(sentinel.Endpoint));
        // The test's Redis and Sentinel speak plain TCP on loopback: the explicit mesh opt-out stands in for TLS.
        values["config"]!["Redis"]!["UseTls"] = false;
        values["config"]!["Redis"]!["CleartextBehindMesh"] = true;

        var cluster = ChartDefaultsServerTests.DefaultCluster(RedisPassword);
        cluster.AddSecret("jitbroker-redis-sentinel", "sentinel-password", SentinelPassword);
        cluster.AddConfigMap("spire-bundle", "bundle.spiffe", ClusterObjects.SpiffeBundleJson());
        cluster.AddConfigMap("vault-ca", "ca.crt", ClusterObjects.CaCertificatePem("vault-ca"));
        cluster.AddConfigMap("jitbroker-policies", "10-agents.yaml",
            "version: 1\nrules:\n  - id: reporter\n    effect: allow\n    owner: reports-lead@prod.example.org\n    principals: { spiffe_ids: [\"spiffe://prod.example.org/agents/reporter\"] }\n" +
            "    actions: [\"reports.read\"]\n    credential: { kind: jwt, audiences: [\"https://reports.prod.example.org\"], max_ttl: 5m }\n");
        using var pod = new PodLayout(values, cluster);
        Assert.That(pod.UnmountedPaths, Is.Empty, "paths in the configuration that no volume of the pod provides");
        Assert.That(pod.Environment.Keys, Does.Contain("JITBROKER__REDIS__SENTINELPASSWORD").And.Contain("JITBROKER__VAULT__AUTH__SERVICEACCOUNTTOKENPATH")
            .And.Contain("JITBROKER__VAULT__CACERTIFICATEPATH").And.Contain("JITBROKER__REDIS__PASSWORDFILE"));

        await using var broker = BrokerProcess.Start(pod, DockerfileImage.Environment);
        await broker.WaitUntilLiveAsync(TimeSpan.FromSeconds(60));
        var (status, body) = await broker.ReadinessAsync(HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(15));

        Assert.Multiple(async () =>
        {
            Assert.That((status, body), Is.EqualTo((HttpStatusCode.ServiceUnavailable, "not ready: vault")), broker.Output);
            // grpc.health.v1 follows the same checks as /readyz (issue 14): Vault down is NOT_SERVING there too.
            Assert.That(await broker.GrpcHealthAsync(), Is.EqualTo(HealthCheckResponse.Types.ServingStatus.NotServing));
            Assert.That(await ChartDefaultsServerTests.JwksCoordinatesAsync(broker), Does.Contain(ChartDefaultsServerTests.Coordinates(cluster.SigningKey)));
        });
    }
}
