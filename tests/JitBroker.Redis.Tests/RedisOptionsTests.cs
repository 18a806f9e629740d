using NUnit.Framework;

namespace JitBroker.Redis.Tests;

[TestFixture]
public sealed class RedisOptionsTests
{
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
    public void The_password_file_is_read_without_its_trailing_newline()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "from-a-secret\n");
            var options = new RedisOptions { Endpoint = "a:1", PasswordFile = file };
            Assert.That((options.Validate(), options.ResolvePassword()), Is.EqualTo((Enumerable.Empty<string>(), "from-a-secret")));
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
