using NUnit.Framework;

namespace JitBroker.Redis.Tests;

[TestFixture]
public sealed class RedisOptionsTests
{
    [Test]
    public void Cluster_needs_buckets_database_zero_and_a_prefix_without_hash_tag()
    {
        Assert.That(new RedisOptions { ClusterEndpoints = ["n1:7000", "n2:7000"], Buckets = 16 }.Validate(), Is.Empty);
        Assert.That(new RedisOptions { ClusterEndpoints = ["n1:7000"] }.Validate(), Has.Some.Contains("Buckets of 2 or more"));
        Assert.That(new RedisOptions { ClusterEndpoints = ["n1:7000"], Buckets = 16, Database = 3 }.Validate(), Has.Some.Contains("database 0"));
        Assert.That(new RedisOptions { ClusterEndpoints = ["n1"], Buckets = 16, Endpoint = "r:6379" }.Validate(), Has.Some.Contains("exactly one"));
        Assert.That(new RedisOptions { ClusterEndpoints = ["n1:port"], Buckets = 16 }.Validate(), Has.Some.Contains("ClusterEndpoints entry"));
        Assert.That(new RedisOptions { Endpoint = "r:6379", Buckets = 0 }.Validate(), Has.Some.Contains("between 1 and 1024"));
        Assert.That(new RedisOptions { Endpoint = "r:6379", Buckets = 1025 }.Validate(), Has.Some.Contains("between 1 and 1024"));
        Assert.That(new RedisOptions { Endpoint = "r:6379", Buckets = 16, KeyPrefix = "{jb}:" }.Validate(), Has.Some.Contains("must not contain '{'"));
        Assert.That(new RedisOptions { Endpoint = "r:6379", Buckets = 1, KeyPrefix = "{jb}:" }.Validate(), Is.Empty, "one bucket: today's single-slot trick still allowed");
        Assert.That(new RedisOptions { ClusterEndpoints = ["n1:7000"], Buckets = 16 }.ToString(), Does.Contain("Cluster = [n1:7000]").And.Contain("Buckets = 16"));
    }

    [Test]
    public void A_standalone_endpoint_is_valid() =>
        Assert.That(new RedisOptions { Endpoint = "redis.internal:6380" }.Validate(), Is.Empty);

    [Test]
    public void Sentinel_needs_a_master_name_and_excludes_an_endpoint()
    {
        var both = new RedisOptions { Endpoint = "a:1", SentinelEndpoints = ["s:26379"] };
        var noName = new RedisOptions { SentinelEndpoints = ["s:26379"] };
        var neither = new RedisOptions();

        Assert.That(both.Validate(), Has.Some.Contains("exactly one"));
        Assert.That(noName.Validate(), Has.Some.Contains("SentinelMasterName"));
        Assert.That(neither.Validate(), Has.Some.Contains("exactly one"));
        Assert.That(new RedisOptions { SentinelEndpoints = ["s:26379", "t:26379"], SentinelMasterName = "mymaster" }.Validate(), Is.Empty);
    }

    [Test]
    public void Replica_acknowledgement_settings_are_checked_only_when_used()
    {
        Assert.That(new RedisOptions { Endpoint = "a:1", MinReplicasToAck = -1 }.Validate(), Has.Some.Contains("MinReplicasToAck"));
        Assert.That(new RedisOptions { Endpoint = "a:1", MinReplicasToAck = 17 }.Validate(), Has.Some.Contains("MinReplicasToAck"));
        Assert.That(new RedisOptions { Endpoint = "a:1", MinReplicasToAck = 1, ReplicaAckTimeout = TimeSpan.Zero }.Validate(), Has.Some.Contains("ReplicaAckTimeout"));
        Assert.That(new RedisOptions { Endpoint = "a:1", MinReplicasToAck = 1, CommandTimeout = TimeSpan.FromMilliseconds(500), ReplicaAckTimeout = TimeSpan.FromMilliseconds(500) }.Validate(),
            Has.Some.Contains("below CommandTimeout"), "WAIT must answer before the command times out");
        Assert.That(new RedisOptions { Endpoint = "a:1", MinReplicasToAck = 1 }.Validate(), Is.Empty, "the defaults work together");
        Assert.That(new RedisOptions { Endpoint = "a:1", CommandTimeout = TimeSpan.FromMilliseconds(400) }.Validate(), Is.Empty,
            "without acknowledgements the ack timeout is not checked");
    }

    [Test]
    public void Nonsense_values_are_each_reported()
    {
        var options = new RedisOptions
        {
            Endpoint = "host:99999",
            User = "broker",
            Database = -1,
            CaCertificatePath = "/nonexistent/ca.pem",
            CommandTimeout = TimeSpan.Zero,
            KeyPrefix = "",
        };

        var problems = options.Validate().ToList();

        Assert.That(problems, Has.Some.Contains("not host:port"));
        Assert.That(problems, Has.Some.Contains("User needs Password"));
        Assert.That(problems, Has.Some.Contains("Database"));
        Assert.That(problems, Has.Some.Contains("UseTls is false"));
        Assert.That(problems, Has.Some.Contains("does not exist"));
        Assert.That(problems, Has.Some.Contains("CommandTimeout"));
        Assert.That(problems, Has.Some.Contains("KeyPrefix"));
    }

    [Test]
    public void The_password_never_appears_in_text()
    {
        var options = new RedisOptions { Endpoint = "a:1", User = "broker", Password = "hunter2-very-secret", SentinelPassword = "s3ntinel" };

        Assert.That(options.ToString(), Does.Not.Contain("hunter2").And.Not.Contain("s3ntinel").And.Contains("***"));
    }

    [Test]
    public void The_password_file_is_read_without_its_trailing_newline_each_time_the_library_asks()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "from-a-secret\n");
            var options = new RedisOptions { Endpoint = "a:1", PasswordFile = file };
            var config = RedisConfiguration.Build(options);
            Assert.That((options.Validate(), config.Password), Is.EqualTo((Enumerable.Empty<string>(), "from-a-secret")));
            File.WriteAllText(file, "rotated\n");
            Assert.That(config.Password, Is.EqualTo("rotated"), "a rotated secret is seen by the next handshake");
            Assert.That(config.ToString(includePassword: false), Does.Not.Contain("rotated"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [TestCase("localhost:6379", "localhost", 6379)]
    [TestCase("10.0.0.1", "10.0.0.1", 6379)]
    [TestCase("[::1]:7000", "::1", 7000)]
    public void Endpoints_parse(string text, string host, int port) =>
        Assert.That(RedisEndpoint.Parse(text), Is.EqualTo(new RedisEndpoint(host, port)));

    [TestCase("")]
    [TestCase(":6379")]
    [TestCase("host:port")]
    [TestCase("host:0")]
    public void Bad_endpoints_do_not_parse(string text) =>
        Assert.That(RedisEndpoint.TryParse(text, out _), Is.False);
}

[TestFixture]
public sealed class RedisConfigurationTests
{
    [Test]
    public void The_library_is_configured_to_fail_fast_on_resp2_with_nothing_administrative()
    {
        var config = RedisConfiguration.Build(new RedisOptions { Endpoint = "127.0.0.1:6390", Database = 2, CommandTimeout = TimeSpan.FromMilliseconds(700), ConnectTimeout = TimeSpan.FromSeconds(3) });

        Assert.That(config.Protocol, Is.EqualTo(StackExchange.Redis.RedisProtocol.Resp2));
        Assert.That(config.AbortOnConnectFail, Is.False);
        Assert.That(config.BacklogPolicy, Is.SameAs(StackExchange.Redis.BacklogPolicy.FailFast));
        Assert.That((config.AllowAdmin, config.TieBreaker, config.ConfigurationChannel), Is.EqualTo((false, "", "")));
        Assert.That((config.DefaultDatabase, config.AsyncTimeout, config.SyncTimeout, config.ConnectTimeout), Is.EqualTo(((int?)2, 700, 700, 3000)));
    }

    [Test]
    public void Sentinel_mode_uses_the_service_name_and_the_sentinels_own_credentials()
    {
        var config = RedisConfiguration.Build(new RedisOptions
        {
            SentinelEndpoints = ["127.0.0.1:26379", "127.0.0.1:26380"], SentinelMasterName = "mymaster",
            SentinelUser = "watcher", SentinelPassword = "s-pw", User = "jitbroker", Password = "pw",
        });

        Assert.That((config.ServiceName, config.EndPoints.Count, config.SentinelUser, config.SentinelPassword, config.User, config.Password),
            Is.EqualTo(("mymaster", 2, "watcher", "s-pw", "jitbroker", "pw")));
    }
}
