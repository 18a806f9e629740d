namespace JitBroker.Policy.Tests;

/// <summary>A temporary directory of policy files, deleted on dispose.</summary>
internal sealed class PolicyDirectory : IDisposable
{
    public PolicyDirectory() => Path = Directory.CreateTempSubdirectory("jitbroker-policy-").FullName;

    public string Path { get; }

    public string Write(string name, string text)
    {
        var path = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    public void Delete(string name) => File.Delete(System.IO.Path.Combine(Path, name));

    public void Dispose() => Directory.Delete(Path, recursive: true);

    /// <summary>One allow rule for any dev agent: action <paramref name="action"/>, audience "aud", TTL <paramref name="ttl"/>.</summary>
    public static string AllowRule(string id, string action = "x.read", string ttl = "5m") => $$"""
          - id: {{id}}
            effect: allow
            principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/**"] }
            actions: ["{{action}}"]
            credential: { audiences: [aud], max_ttl: {{ttl}} }
        """;

    public static string Document(params string[] rules) => "version: 1\nrules:\n" + string.Join('\n', rules) + "\n";
}
