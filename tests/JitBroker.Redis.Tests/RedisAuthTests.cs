using JitBroker.Redis.Tests.Harness;
using NUnit.Framework;
using StackExchange.Redis;

namespace JitBroker.Redis.Tests;

/// <summary>AUTH with an ACL user, with a password alone, and with the wrong password.</summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class RedisAuthTests
{
    private const string AdminPassword = "admin-pw-7f3a";
    private RedisServerProcess _server = null!;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _server = await RedisServerProcess.StartServerAsync("--requirepass", AdminPassword);
        await using var admin = new RedisConnection(new RedisOptions { Endpoint = _server.Endpoint, Password = AdminPassword });
        // A least-privilege broker user: only its own key prefix, no admin commands.
        await admin.ExecuteAsync("ACL", ["SETUSER", "broker", "on", ">broker-pw-91c2", "~jitbroker:*", "+@all", "-@admin", "-@dangerous"]);
    }

    [OneTimeTearDown]
    public async Task StopServer() => await _server.DisposeAsync();

    [Test]
    public async Task An_acl_user_authenticates_and_is_held_to_its_permissions()
    {
        await using var redis = new RedisConnection(new RedisOptions { Endpoint = _server.Endpoint, User = "broker", Password = "broker-pw-91c2" });

        Assert.That((await redis.ExecuteAsync("ACL", ["WHOAMI"])).AsString(), Is.EqualTo("broker"));
        await redis.ExecuteAsync("SET", ["jitbroker:k", "v"]);
        var denied = Assert.ThrowsAsync<RedisServerException>(() => redis.ExecuteAsync("SET", ["other:k", "v"]).AsTask());
        Assert.That(RedisFailures.CauseOf(denied!), Is.EqualTo(RedisFailures.NoPermission));
        Assert.That(await redis.PingAsync(), Is.True, "CLIENT SETNAME refused for lack of +client must not break the handshake");
    }

    [Test]
    public async Task A_password_alone_authenticates_the_default_user()
    {
        await using var redis = new RedisConnection(new RedisOptions { Endpoint = _server.Endpoint, Password = AdminPassword });
        Assert.That((await redis.ExecuteAsync("ACL", ["WHOAMI"])).AsString(), Is.EqualTo("default"));
    }

    [Test]
    public async Task The_password_can_come_from_a_file()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "broker-pw-91c2\n");
            await using var redis = new RedisConnection(new RedisOptions { Endpoint = _server.Endpoint, User = "broker", PasswordFile = file });
            Assert.That((await redis.ExecuteAsync("ACL", ["WHOAMI"])).AsString(), Is.EqualTo("broker"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public async Task A_rotated_password_file_is_read_again_when_the_client_reconnects()
    {
        var file = Path.GetTempFileName();
        try
        {
            await using var admin = new RedisConnection(new RedisOptions { Endpoint = _server.Endpoint, Password = AdminPassword, AllowAdminCommands = true });
            await admin.ExecuteAsync("ACL", ["SETUSER", "rotating", "on", ">first-pw-1", "~jitbroker:*", "+@all", "-@admin", "-@dangerous"]);
            await File.WriteAllTextAsync(file, "first-pw-1\n");
            await using var redis = new RedisConnection(new RedisOptions
            {
                Endpoint = _server.Endpoint, User = "rotating", PasswordFile = file,
                ReconnectBaseDelay = TimeSpan.FromMilliseconds(50), ReconnectMaxDelay = TimeSpan.FromMilliseconds(200),
            });
            Assert.That((await redis.ExecuteAsync("ACL", ["WHOAMI"])).AsString(), Is.EqualTo("rotating"));

            // Rotate: the server accepts only the new password, the secret file changes, existing connections are cut.
            await admin.ExecuteAsync("ACL", ["SETUSER", "rotating", "resetpass", ">second-pw-2"]);
            await File.WriteAllTextAsync(file, "second-pw-2\n");
            await admin.ExecuteAsync("CLIENT", ["KILL", "USER", "rotating"]);

            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    Assert.That((await redis.ExecuteAsync("ACL", ["WHOAMI"])).AsString(), Is.EqualTo("rotating"));
                    break;
                }
                catch (RedisConnectionException) when (clock.Elapsed < TimeSpan.FromSeconds(15))
                {
                    await Task.Delay(50);
                }
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public async Task A_wrong_password_is_a_clear_connection_error_without_the_password()
    {
        await using var redis = new RedisConnection(new RedisOptions { Endpoint = _server.Endpoint, User = "broker", Password = "wrong-pw-xyz" });

        var error = Assert.ThrowsAsync<RedisConnectionException>(() => redis.ExecuteAsync("PING", []).AsTask());

        Assert.That(error!.ToString(), Does.Not.Contain("wrong-pw-xyz"));
        Assert.That(await redis.PingAsync(), Is.False);
    }

    [Test]
    public async Task No_password_against_a_protected_server_is_refused()
    {
        await using var redis = new RedisConnection(new RedisOptions { Endpoint = _server.Endpoint });
        Assert.ThrowsAsync<RedisConnectionException>(() => redis.ExecuteAsync("GET", ["k"]).AsTask());
        Assert.That(await redis.PingAsync(), Is.False);
    }
}
