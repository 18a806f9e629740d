using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Grpc.Health.V1;
using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;

namespace JitBroker.Chart.Tests.Server;

/// <summary>
/// The configuration the chart writes is the configuration the server reads: the published server, started
/// with the Deployment's environment and a directory tree laid out like the pod's mounts (values.yaml defaults),
/// becomes live and ready against a real Redis; nonsense in values stops it with exit code 2.
/// Deviations from a real pod, all forced by running without a cluster: listen addresses are free loopback
/// ports, absolute paths live under a temp root, the Redis endpoint in values is replaced by the test's own
/// redis-server, TMPDIR/HOME point into the temp root.
/// </summary>
public sealed class ChartDefaultsServerTests
{
    private const string RedisPassword = "redis-pw-from-a-secret";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private RedisServerProcess _redis = null!;

    [SetUp]
    public async Task StartRedis() => _redis = await RedisServerProcess.StartServerAsync("--requirepass", RedisPassword);

    [TearDown]
    public async Task StopRedis() => await _redis.DisposeAsync();

    [Test]
    public async Task Chart_defaults_start_a_live_and_ready_broker_that_signs_with_the_secret_key()
    {
        var cluster = DefaultCluster(RedisPassword);
        using var pod = new PodLayout(DefaultsAgainst(_redis), cluster);
        Assert.That(pod.UnmountedPaths, Is.Empty, "paths in the configuration that no volume of the pod provides");
        var before = Files(pod.Root);

        await using var broker = BrokerProcess.Start(pod, DockerfileImage.Environment);
        await broker.WaitUntilLiveAsync(StartTimeout);
        var (status, body) = await broker.ReadinessAsync(HttpStatusCode.OK, TimeSpan.FromSeconds(15));

        Assert.Multiple(async () =>
        {
            Assert.That((status, body), Is.EqualTo((HttpStatusCode.OK, "ready")), broker.Output);
            Assert.That(await broker.GrpcHealthAsync(), Is.EqualTo(HealthCheckResponse.Types.ServingStatus.Serving));
            Assert.That(await JwksCoordinatesAsync(broker), Does.Contain(Coordinates(cluster.SigningKey)), "the JWKS publishes the Secret's key, not a generated one");
            Assert.That(await JwksCoordinatesAsync(broker, "/.well-known/audit-jwks.json"), Is.EqualTo(new[] { Coordinates(cluster.AuditSigningKey) }),
                "checkpoints are signed with the audit key's Secret, not a key generated into the pod's data directory");
            Assert.That(broker.Output, Does.Contain("production").And.Not.Contain("embedded profile"));
            Assert.That(broker.Output, Does.Contain("CLEARTEXT TO Redis"), "the mesh opt-out is logged loudly");
            Assert.That(broker.Output, Does.Contain("State integrity key"), "the key is loaded from the Secret (its id is logged, never the key)");
        });

        // Read-only root filesystem: everything the broker wrote is inside a writable volume.
        var writable = new[] { "/tmp", "/var/lib/jitbroker" }.Select(pod.Map).ToList();
        var written = Files(pod.Root).Except(before).Where(f => !writable.Any(w => f.StartsWith(w + "/", StringComparison.Ordinal)));
        Assert.That(written, Is.Empty, "files written outside the pod's writable volumes");
    }

    [Test]
    public async Task A_wrong_redis_password_in_the_secret_keeps_the_broker_live_but_not_ready()
    {
        using var pod = new PodLayout(DefaultsAgainst(_redis), DefaultCluster("not-the-password"));

        await using var broker = BrokerProcess.Start(pod, DockerfileImage.Environment);
        await broker.WaitUntilLiveAsync(StartTimeout);
        var (status, body) = await broker.ReadinessAsync(HttpStatusCode.OK, TimeSpan.FromSeconds(3));

        // Liveness must not restart a pod because Redis is away; readiness takes it out of the Service.
        Assert.That((status, body), Is.EqualTo((HttpStatusCode.ServiceUnavailable, "not ready: redis")), broker.Output);
    }

    [Test]
    public async Task A_secret_mounted_key_with_group_read_is_refused_which_is_why_the_init_container_copies_it()
    {
        using var pod = new PodLayout(DefaultsAgainst(_redis), DefaultCluster(RedisPassword));
        // What the kubelet makes of defaultMode 0400 when fsGroup is set (kubernetes/kubernetes#57923).
        File.SetUnixFileMode(pod.Map("/var/run/jitbroker/signing/signing-key.pem"), UnixFileMode.UserRead | UnixFileMode.GroupRead);

        await using var broker = BrokerProcess.Start(pod, DockerfileImage.Environment);

        Assert.That(await broker.WaitForExitAsync(StartTimeout), Is.EqualTo(2), broker.Output);
        Assert.That(broker.Output, Does.Contain("accessible to group or other"));
    }

    [Test]
    public async Task With_a_rotation_root_secret_two_pods_in_turn_publish_the_same_derived_keys()
    {
        var values = DefaultsAgainst(_redis);
        values["config"]!["SigningKey"] = new JsonObject { ["RotationInterval"] = "1.00:00:00" };
        values["signingKey"]!["existingSecret"] = "";
        values["signingKey"]!["rotationRootSecret"]!["existingSecret"] = "jitbroker-rotation-root";
        Assert.That(SchemaValidator.Validate(values), Is.Empty);
        var cluster = DefaultCluster(RedisPassword);
        cluster.AddSecret("jitbroker-rotation-root", "rotation-root.key", Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) + "\n");

        var published = new List<List<string>>();
        for (var pod = 0; pod < 2; pod++)
        {
            // A second replica, or the same one restarted: nothing is shared with the first but the Secret.
            using var layout = new PodLayout(values, cluster);
            Assert.That(layout.UnmountedPaths, Is.Empty);
            Assert.That(layout.Environment.Keys, Does.Contain("JITBROKER__SIGNINGKEY__ROTATIONROOTSECRETPATH").And.Not.Contain("JITBROKER__SIGNINGKEY__PRIVATEKEYPEMPATH"));
            await using var broker = BrokerProcess.Start(layout, DockerfileImage.Environment);
            await broker.WaitUntilLiveAsync(StartTimeout);
            published.Add(await JwksCoordinatesAsync(broker));
            Assert.That(broker.Output, Does.Contain("derived from the root secret with fingerprint"), broker.Output);
        }

        Assert.That(published[0], Is.Not.Empty.And.EqualTo(published[1]), "both pods derive the same keys from the Secret");
        Assert.That(published[0], Does.Not.Contain(Coordinates(cluster.SigningKey)), "the key file is not used while rotating");
    }

    [TestCase("Broker.MaxTtl", "1.00:00:00", "Broker:MaxTtl above 12h")]
    [TestCase("Broker.MaxTtlTypo", "00:10:00", "MaxTtlTypo")]
    [TestCase("Revocation.BatchSize", "0", "Revocation:BatchSize must lie between")]
    [TestCase("Redis.KeyPrefix", "", "KeyPrefix must not be empty")]
    public async Task Nonsense_the_schema_lets_through_makes_the_server_refuse_to_start(string setting, string value, string message)
    {
        var values = DefaultsAgainst(_redis);
        var parts = setting.Split('.');
        var config = (JsonObject)values["config"]!;
        config[parts[0]] ??= new JsonObject();
        config[parts[0]]![parts[1]] = value;
        Assert.That(SchemaValidator.Validate(values), Is.Empty, "this test is about what only the server can judge");
        using var pod = new PodLayout(values, DefaultCluster(RedisPassword));

        await using var broker = BrokerProcess.Start(pod, DockerfileImage.Environment);

        Assert.That(await broker.WaitForExitAsync(StartTimeout), Is.EqualTo(2), broker.Output);
        Assert.That(broker.Output, Does.Contain("Invalid configuration").And.Contain(message));
    }

    [Test]
    public async Task A_policy_configmap_update_is_picked_up_without_a_restart()
    {
        var values = DefaultsAgainst(_redis);
        values["config"]!["Policy"]!["ReloadInterval"] = "00:00:01";
        using var pod = new PodLayout(values, DefaultCluster(RedisPassword));
        await using var broker = BrokerProcess.Start(pod, DockerfileImage.Environment);
        await broker.WaitUntilLiveAsync(StartTimeout);
        var audit = pod.Map($"/var/lib/jitbroker/audit/{PodLayout.PodName}.jsonl");

        pod.UpdateConfigMapVolume("/etc/jitbroker/policies", new Dictionary<string, string>
        {
            ["00-deny-all.yaml"] = "version: 1\nrules:\n  - id: nobody-deletes\n    effect: deny\n    principals: { trust_domains: [\"https://kubernetes.default.svc.cluster.local\"] }\n    actions: [\"*.delete\"]\n",
        }, generation: 1);

        var reloaded = false;
        for (var i = 0; i < 100 && !reloaded; i++)
        {
            await Task.Delay(150);
            reloaded = File.Exists(audit) && ReadShared(audit).Contains("\"policy.reloaded\"", StringComparison.Ordinal);
        }

        Assert.That(reloaded, Is.True, $"no policy.reloaded event in the pod's audit file {audit}:\n{broker.Output}");
        Assert.That(await broker.GrpcHealthAsync(), Is.EqualTo(HealthCheckResponse.Types.ServingStatus.Serving), "the same process still serves");
    }

    internal static JsonObject DefaultsAgainst(RedisServerProcess redis)
    {
        var values = Values.Effective();
        values["config"]!["Redis"]!["Endpoint"] = redis.Endpoint;
        // The test's redis-server speaks plain TCP on loopback: the chart's UseTls is swapped for the explicit mesh
        // opt-out, the one way the production profile accepts that (and which the broker must log loudly).
        values["config"]!["Redis"]!["UseTls"] = false;
        values["config"]!["Redis"]!["CleartextBehindMesh"] = true;
        return values;
    }

    internal static ClusterObjects DefaultCluster(string redisPassword)
    {
        var cluster = new ClusterObjects();
        cluster.AddSecret("jitbroker-signing-key", "signing-key.pem", cluster.SigningKey.ExportPkcs8PrivateKeyPem());
        cluster.AddSecret("jitbroker-redis", "password", redisPassword + "\n");
        cluster.AddSecret("jitbroker-state-integrity-key", "state-integrity.key", Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) + "\n");
        cluster.AddSecret("jitbroker-audit-signing-key", "audit-signing-key.pem", cluster.AuditSigningKey.ExportPkcs8PrivateKeyPem());
        return cluster;
    }

    internal static string Coordinates(ECDsa key)
    {
        var p = key.ExportParameters(false);
        return ClusterObjects.Base64Url(p.Q.X!) + "," + ClusterObjects.Base64Url(p.Q.Y!);
    }

    internal static async Task<List<string>> JwksCoordinatesAsync(BrokerProcess broker, string path = "/.well-known/jwks.json")
    {
        using var http = new HttpClient();
        var jwks = JsonNode.Parse(await http.GetStringAsync(new Uri(broker.HttpUri, path)))!;
        return [.. jwks["keys"]!.AsArray().Select(k => k!["x"] + "," + k["y"])];
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(stream).ReadToEnd();
    }

    private static HashSet<string> Files(string root) =>
        [.. Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })];
}
