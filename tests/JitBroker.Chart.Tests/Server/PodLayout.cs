using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace JitBroker.Chart.Tests.Server;

/// <summary>
/// A temporary directory laid out like the broker pod's filesystem for a set of values: every mount the
/// Deployment declares (read from the template) under <see cref="Root"/>, filled the way its volume fills it
/// (ConfigMaps with the kubelet's <c>..data</c> symlink layout, the signing key as the init container leaves
/// it), and the container environment resolved (<c>fieldRef</c>, <c>secretKeyRef</c>, <c>$(VAR)</c>), with
/// absolute paths moved under <see cref="Root"/>.
/// </summary>
internal sealed partial class PodLayout : IDisposable
{
    public const string PodName = "jitbroker-5d8c7b9f4-x2k8q";
    private const string ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

    private readonly List<string> _mountPaths = [];

    public PodLayout(JsonObject values, ClusterObjects cluster)
    {
        Values = values;
        Root = Directory.CreateTempSubdirectory("jitbroker-pod-").FullName;
        Mounts = DeploymentBlocks.Mounts(values);
        DeclaredEnv = DeploymentBlocks.Env(values);
        _mountPaths.AddRange(Mounts.Select(m => m.MountPath));
        if (Tests.Values.IsTruthy(Tests.Values.At(values, "serviceAccount.automountToken")))
        {
            // Not in the template: the kubelet mounts the pod's API token and the cluster CA here.
            _mountPaths.Add(ServiceAccountDir);
            Write(ServiceAccountDir + "/token", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
            Write(ServiceAccountDir + "/ca.crt", ClusterObjects.CaCertificatePem("kubernetes"));
        }

        Directory.CreateDirectory(Map("/app"));
        foreach (var mount in Mounts)
        {
            Fill(mount, cluster);
        }

        Environment = ResolveEnvironment(cluster);
    }

    public JsonObject Values { get; }

    public string Root { get; }

    public IReadOnlyList<Mount> Mounts { get; }

    public IReadOnlyList<EnvVar> DeclaredEnv { get; }

    /// <summary>The container's environment as the kubelet would set it, absolute paths moved under <see cref="Root"/>.</summary>
    public Dictionary<string, string> Environment { get; }

    /// <summary>Absolute paths in the environment or the configuration that no mount of the pod provides.</summary>
    public List<string> UnmountedPaths { get; } = [];

    /// <summary>The configuration file exactly as the chart writes it (values.config and values.logging), before path mapping.</summary>
    public JsonObject ChartConfigFile => new()
    {
        ["JitBroker"] = Values["config"]?.DeepClone(),
        ["Logging"] = Values["logging"]?.DeepClone(),
    };

    public string Map(string podPath) => Root + podPath;

    /// <summary>Swaps a ConfigMap volume's content the way the kubelet does: a new timestamped directory, then an atomic rename of <c>..data</c>.</summary>
    public void UpdateConfigMapVolume(string mountPath, IReadOnlyDictionary<string, string> files, int generation)
    {
        var dir = Map(mountPath);
        var stamp = $"..2026_11_21_10_00_{generation:00}.{generation:000000000}";
        Directory.CreateDirectory(Path.Combine(dir, stamp));
        foreach (var (name, content) in files)
        {
            File.WriteAllText(Path.Combine(dir, stamp, name), content);
            var link = Path.Combine(dir, name);
            if (!File.Exists(link))
            {
                File.CreateSymbolicLink(link, Path.Combine("..data", name));
            }
        }

        var temp = Path.Combine(dir, "..data_tmp");
        File.CreateSymbolicLink(temp, stamp);
        // rename(2) replaces the old ..data link atomically; File.Move would follow the link to its directory.
        if (Rename(temp, Path.Combine(dir, "..data")) != 0)
        {
            throw new IOException($"rename ..data failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A temp directory left behind is not a test failure.
        }
    }

    private void Fill(Mount mount, ClusterObjects cluster)
    {
        string Value(string path) => Tests.Values.At(Values, path)?.ToString() ?? "";
        switch (mount.Name)
        {
            case "config":
                // subPath mount of the chart's ConfigMap key: a single file.
                Write(mount.MountPath, MapPaths(ChartConfigFile).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                File.Copy(Path.Combine(PublishedServer.Directory, "appsettings.json"), Map("/app/appsettings.json"));
                break;
            case "tmp" or "data" or "audit" or "spiffe-workload-api":
                Directory.CreateDirectory(Map(mount.MountPath));
                break;
            case "signing":
                // What the install-signing-key init container leaves: the key (or, with rotation, the root secret)
                // owner-only, earlier public keys readable.
                var rotationRoot = Value("signingKey.rotationRootSecret.existingSecret");
                if (rotationRoot.Length > 0)
                {
                    Write(mount.MountPath + "/rotation-root.key", cluster.Secrets[rotationRoot][Value("signingKey.rotationRootSecret.key")], UnixFileMode.UserRead);
                }

                var secret = Value("signingKey.existingSecret") is { Length: > 0 } name ? cluster.Secrets[name] : new Dictionary<string, string>();
                if (rotationRoot.Length == 0)
                {
                    Write(mount.MountPath + "/signing-key.pem", secret[Value("signingKey.key")], UnixFileMode.UserRead);
                }

                foreach (var (key, content) in secret.Where(s => s.Key.StartsWith("previous-", StringComparison.Ordinal)))
                {
                    Write(mount.MountPath + "/" + key, content, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                }

                // The same init container installs the state integrity key next to it, owner-only.
                var stateSecret = cluster.Secrets[Value("stateIntegrityKey.existingSecret")];
                Write(mount.MountPath + "/state-integrity.key", stateSecret[Value("stateIntegrityKey.key")], UnixFileMode.UserRead);
                var auditSecret = cluster.Secrets[Value("auditSigningKey.existingSecret")];
                Write(mount.MountPath + "/audit-signing-key.pem", auditSecret[Value("auditSigningKey.key")], UnixFileMode.UserRead);
                break;
            case "policies":
                var policyMap = Value("policies.existingConfigMap");
                var policies = policyMap.Length > 0
                    ? cluster.ConfigMaps[policyMap]
                    : ((JsonObject)Values["policies"]!["files"]!).ToDictionary(f => f.Key, f => f.Value!.ToString());
                UpdateConfigMapVolume(mount.MountPath, policies, 0);
                break;
            case "trust-bundles":
                var bundles = ((JsonArray)Values["trustBundles"]!["configMaps"]!).Select(i => i!)
                    .ToDictionary(i => i["path"]!.ToString(), i => cluster.ConfigMaps[i["name"]!.ToString()][i["key"]!.ToString()]);
                UpdateConfigMapVolume(mount.MountPath, bundles, 0);
                break;
            case "redis-auth":
                Write(mount.MountPath + "/password", cluster.Secrets[Value("redis.auth.existingSecret")][Value("redis.auth.passwordKey")]);
                break;
            case "vault-sa":
                Write(mount.MountPath + "/token", "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ2YXVsdCJ9.c2ln");
                break;
            case "vault-auth":
                foreach (var (key, content) in cluster.Secrets[Value("vault.existingSecret")])
                {
                    Write(mount.MountPath + "/" + key, content);
                }

                break;
            case "vault-ca":
                Write(mount.MountPath + "/ca.crt", cluster.ConfigMaps[Value("vault.caConfigMap.name")][Value("vault.caConfigMap.key")]);
                break;
            case "mtls":
                foreach (var (key, content) in cluster.Secrets[Value("mtls.existingSecret")])
                {
                    Write(mount.MountPath + "/" + key, content);
                }

                break;
            default:
                throw new InvalidOperationException($"The test does not know how volume '{mount.Name}' is filled; teach PodLayout.Fill.");
        }
    }

    private Dictionary<string, string> ResolveEnvironment(ClusterObjects cluster)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var variable in DeclaredEnv)
        {
            string value;
            if (variable.FieldPath is { } field)
            {
                value = field == "metadata.name" ? PodName : throw new InvalidOperationException($"fieldRef {field} is not emulated.");
            }
            else if (variable.SecretRef is var (secret, key))
            {
                value = cluster.Secrets[secret][key];
            }
            else
            {
                value = Expand(variable.Value ?? "", env);
            }

            env[variable.Name] = MapPath(value);
        }

        return env;
    }

    /// <summary>Kubernetes dependent environment variables: $(NAME) of an earlier variable, $$ for a literal $.</summary>
    private static string Expand(string value, Dictionary<string, string> earlier) =>
        Reference().Replace(value, m => m.Value == "$$" ? "$" : earlier.TryGetValue(m.Groups[1].Value, out var v) ? v : m.Value);

    private JsonNode MapPaths(JsonNode node)
    {
        var copy = node.DeepClone();
        Walk(copy);
        return copy;

        void Walk(JsonNode? n)
        {
            switch (n)
            {
                case JsonObject o:
                    foreach (var (key, child) in o.ToList())
                    {
                        if (child is JsonValue v && v.TryGetValue<string>(out var s))
                        {
                            o[key] = MapPath(s);
                        }
                        else
                        {
                            Walk(child);
                        }
                    }

                    break;
                case JsonArray a:
                    for (var i = 0; i < a.Count; i++)
                    {
                        if (a[i] is JsonValue v && v.TryGetValue<string>(out var s))
                        {
                            a[i] = MapPath(s);
                        }
                        else
                        {
                            Walk(a[i]);
                        }
                    }

                    break;
            }
        }
    }

    private string MapPath(string value)
    {
        if (!value.StartsWith('/'))
        {
            return value;
        }

        if (!_mountPaths.Any(m => value == m || value.StartsWith(m.TrimEnd('/') + "/", StringComparison.Ordinal)))
        {
            UnmountedPaths.Add(value);
        }

        return Map(value);
    }

    private void Write(string podPath, string content, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.GroupRead)
    {
        var path = Map(podPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        File.SetUnixFileMode(path, mode);
    }

    [LibraryImport("libc", EntryPoint = "rename", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Rename(string oldPath, string newPath);

    [GeneratedRegex(@"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")]
    private static partial Regex Reference();
}
