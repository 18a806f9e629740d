using NUnit.Framework;

namespace JitBroker.Redis.Tests.Harness;

/// <summary>
/// The ACL users exactly as docs/redis.md tells operators to create them: the <c>ACL SETUSER</c> lines are read
/// from the document, so the tests fail the day the documented ACL stops being enough.
/// </summary>
internal static class DocumentedAcl
{
    public const string BrokerUser = "jitbroker";
    public const string AuditUser = "jitbroker-audit";
    public const string AdminPassword = "admin-pw-acl-3c1d";
    public const string BrokerPassword = "broker-pw-acl-8e2f";
    public const string AuditPassword = "audit-pw-acl-5b7a";

    /// <summary>The documented <c>ACL SETUSER</c> line for <paramref name="user"/>, split into arguments, with the password filled in.</summary>
    public static string[] SetUserArguments(string user, string password)
    {
        var line = File.ReadLines(DocsPath()).SingleOrDefault(l => l.StartsWith($"ACL SETUSER {user} ", StringComparison.Ordinal))
            ?? throw new AssertionException($"docs/redis.md has no 'ACL SETUSER {user}' line.");
        return [.. line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(a => a == ">(password)" ? ">" + password : a)];
    }

    /// <summary>Creates both documented users on a server whose default user has <see cref="AdminPassword"/>.</summary>
    public static async Task CreateUsersAsync(RedisConnection admin)
    {
        await admin.ExecuteAsync("ACL", SetUserArguments(BrokerUser, BrokerPassword));
        await admin.ExecuteAsync("ACL", SetUserArguments(AuditUser, AuditPassword));
    }

    /// <summary>An admin connection (default user, admin commands allowed) for set-up and probes.</summary>
    public static RedisConnection Admin(string endpoint) =>
        new(new RedisOptions { Endpoint = endpoint, Password = AdminPassword, AllowAdminCommands = true });

    /// <summary>Every refusal Redis logged (<c>ACL LOG</c>), as "reason object username" lines.</summary>
    public static async Task<List<string>> RefusalsAsync(RedisConnection admin)
    {
        var entries = (await admin.ExecuteAsync("ACL", ["LOG"])).AsArray();
        var refusals = new List<string>();
        foreach (var entry in entries)
        {
            var fields = entry.AsArray();
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            for (var i = 0; i + 1 < fields.Length; i += 2)
            {
                map[fields[i].AsString()!] = fields[i + 1].Resp2Type is StackExchange.Redis.ResultType.BulkString or StackExchange.Redis.ResultType.SimpleString
                    ? fields[i + 1].AsString() ?? "" : "";
            }

            refusals.Add($"{map.GetValueOrDefault("reason")} {map.GetValueOrDefault("object")} by {map.GetValueOrDefault("username")}");
        }

        return refusals;
    }

    private static string DocsPath()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "docs", "redis.md");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new AssertionException("docs/redis.md not found above " + AppContext.BaseDirectory);
    }
}
