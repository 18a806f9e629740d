using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using JitBroker.Server;
using NUnit.Framework;

namespace JitBroker.Chart.Tests;

/// <summary>
/// What a platform team relies on, read from the template text (no rendering): pod security, probes, the
/// signing key's path and mode, the policy directory mount, ports that agree across Deployment, Service and
/// Dockerfile, and chart-set keys that exist in the server's settings.
/// </summary>
public sealed partial class ManifestInvariantTests
{
    private static readonly string Deployment = File.ReadAllText(RepoPaths.Template("deployment.yaml"));
    private static readonly string Helpers = File.ReadAllText(RepoPaths.Template("_helpers.tpl"));

    private static Dictionary<string, string?> EnvDefaults() =>
        DeploymentBlocks.Env(Values.Effective()).ToDictionary(e => e.Name, e => e.Value);

    private static Mount MountNamed(string name) => DeploymentBlocks.Mounts(Values.Effective(), allBranches: true).Single(m => m.Name == name);

    [Test]
    public void Both_containers_run_with_the_fixed_restricted_security_context()
    {
        Assert.Multiple(() =>
        {
            foreach (var setting in new[]
                     {
                         "runAsNonRoot: true", "readOnlyRootFilesystem: true", "allowPrivilegeEscalation: false", "privileged: false",
                         "capabilities:\n  drop:\n    - ALL", "seccompProfile:\n  type: RuntimeDefault",
                     })
            {
                Assert.That(Helpers, Does.Contain(setting));
            }

            Assert.That(Regex.Count(Deployment, @"include ""jitbroker\.containerSecurityContext"""), Is.EqualTo(2), "broker and init container");
            Assert.That(Deployment, Does.Contain("securityContext:\n        runAsNonRoot: true"));
            Assert.That(Deployment, Does.Contain("        seccompProfile:\n          type: RuntimeDefault"));
        });
    }

    [Test]
    public void Liveness_is_healthz_and_readiness_is_readyz_on_the_http_port()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Deployment, Does.Contain("livenessProbe:\n            httpGet:\n              path: /healthz\n              port: http"));
            Assert.That(Deployment, Does.Contain("readinessProbe:\n            httpGet:\n              path: /readyz\n              port: http"));
            Assert.That(Deployment, Does.Contain("startupProbe:\n            httpGet:\n              path: /healthz"));
        });
    }

    [Test]
    public void The_signing_key_the_server_reads_is_the_0400_copy_the_init_container_makes()
    {
        var keyPath = EnvDefaults()["JITBROKER__SIGNINGKEY__PRIVATEKEYPEMPATH"]!;
        var signing = MountNamed("signing");
        Assert.Multiple(() =>
        {
            Assert.That(Path.GetDirectoryName(keyPath), Is.EqualTo(signing.MountPath));
            Assert.That(signing.ReadOnly, Is.True, "the broker only reads the key");
            Assert.That(Deployment, Does.Contain($"install -m 0400 \"/var/run/jitbroker/signing-secret/${{SIGNING_KEY_NAME}}\" {keyPath}"));
            Assert.That(Deployment, Does.Contain("- name: signing-secret\n          secret:\n            secretName: {{ .Values.signingKey.existingSecret | quote }}\n            defaultMode: 0400"));
            Assert.That(Deployment, Does.Contain("- name: signing\n          emptyDir:\n            medium: Memory"), "the key copy never touches a node disk");
            Assert.That(Deployment, Does.Contain("fsGroup: {{ . }}"), "fsGroup lets the non-root init container read the Secret (group read)");
        });
    }

    [Test]
    public void Policies_are_a_configmap_directory_without_subpath_so_updates_arrive()
    {
        var policies = MountNamed("policies");
        Assert.Multiple(() =>
        {
            Assert.That(policies.SubPath, Is.Null, "a subPath mount never receives ConfigMap updates");
            Assert.That(EnvDefaults()["JITBROKER__POLICY__PATH"], Is.EqualTo(policies.MountPath));
            Assert.That(Deployment, Does.Contain("- name: policies\n          configMap:\n            name: {{ include \"jitbroker.policiesConfigMap\" . }}"));
            Assert.That(Deployment, Does.Not.Contain("checksum/policies"), "a policy edit must not restart the pods");
        });
    }

    [Test]
    public void Writable_paths_are_emptydirs_or_the_audit_volume()
    {
        var env = EnvDefaults();
        Assert.Multiple(() =>
        {
            Assert.That(env["JITBROKER__DATADIRECTORY"], Is.EqualTo(MountNamed("data").MountPath));
            Assert.That(env["JITBROKER__AUDIT__PATH"], Is.EqualTo(MountNamed("audit").MountPath + "/$(POD_NAME).jsonl"), "one audit chain per pod");
            Assert.That(MountNamed("tmp").MountPath, Is.EqualTo("/tmp"));
            foreach (var name in new[] { "tmp", "data" })
            {
                Assert.That(Deployment, Does.Contain($"- name: {name}\n          emptyDir:"));
            }
        });
    }

    [Test]
    public void Every_mount_has_a_volume()
    {
        var volumes = Deployment[Deployment.IndexOf("\n      volumes:\n", StringComparison.Ordinal)..];
        foreach (var mount in DeploymentBlocks.Mounts(Values.Effective(), allBranches: true))
        {
            Assert.That(volumes, Does.Contain($"\n        - name: {mount.Name}\n"), mount.Name);
        }
    }

    [Test]
    public void Ports_agree_between_listen_settings_container_service_and_image()
    {
        var env = DeploymentBlocks.Env(Values.Effective(), allBranches: true).ToDictionary(e => e.Name, e => e.Value);
        var service = File.ReadAllText(RepoPaths.Template("service.yaml"));
        var expose = DockerfileImage.Instruction("EXPOSE")!.Split(' ');
        foreach (var (name, key) in new[] { ("grpc", "JITBROKER__LISTEN__GRPC"), ("http", "JITBROKER__LISTEN__HTTP"), ("mtls", "JITBROKER__LISTEN__MTLS") })
        {
            var listen = env[key]!;
            var port = listen[(listen.LastIndexOf(':') + 1)..];
            Assert.Multiple(() =>
            {
                Assert.That(listen, Does.StartWith("0.0.0.0:"), $"{key} must accept connections from other pods");
                Assert.That(Deployment, Does.Contain($"- name: {name}\n              containerPort: {port}\n"));
                Assert.That(service, Does.Contain($"targetPort: {name}"));
                Assert.That(expose, Does.Contain(port));
            });
        }

        Assert.That(service, Does.Contain("- name: grpc\n      port: {{ .Values.service.ports.grpc }}\n      targetPort: grpc\n      protocol: TCP\n      appProtocol: kubernetes.io/h2c"));
    }

    [Test]
    public void The_config_file_lands_where_the_image_reads_it_and_the_image_user_matches_the_chart()
    {
        var config = MountNamed("config");
        Assert.Multiple(() =>
        {
            Assert.That(DockerfileImage.Instruction("WORKDIR"), Is.EqualTo(Path.GetDirectoryName(config.MountPath)), "the content root");
            Assert.That(Path.GetFileName(config.MountPath), Is.EqualTo("appsettings.Production.json").And.EqualTo(config.SubPath));
            Assert.That(EnvDefaults()["ASPNETCORE_ENVIRONMENT"], Is.EqualTo("Production"));
            Assert.That(File.ReadAllText(RepoPaths.Template("configmap-config.yaml")),
                Does.Contain("appsettings.Production.json: |\n    {{- dict \"JitBroker\" .Values.config \"Logging\" .Values.logging | toPrettyJson | nindent 4 }}"));
            Assert.That(DockerfileImage.Instruction("USER"), Is.EqualTo($"{Values.At(Values.Effective(), "podSecurityContext.runAsUser")}:{Values.At(Values.Effective(), "podSecurityContext.runAsGroup")}"));
            Assert.That(DockerfileImage.Instruction("HEALTHCHECK"), Is.EqualTo("NONE"));
        });
    }

    [Test]
    public void Every_broker_setting_the_chart_sets_exists_in_the_server_settings()
    {
        foreach (var env in DeploymentBlocks.Env(Values.Effective(), allBranches: true).Where(e => e.Name.StartsWith("JITBROKER__", StringComparison.Ordinal)))
        {
            Assert.That(SettingsPath(env.Name), Is.Not.Empty);
        }
    }

    [Test]
    public void Settings_the_chart_owns_are_refused_in_values_config()
    {
        // Environment variables override the config file silently, so the schema must refuse the same key in values.config.
        foreach (var env in DeploymentBlocks.Env(Values.Effective()).Where(e => e.Name.StartsWith("JITBROKER__", StringComparison.Ordinal)))
        {
            var values = Values.Effective();
            JsonObject node = (JsonObject)values["config"]!;
            var parts = SettingsPath(env.Name);
            foreach (var part in parts[..^1])
            {
                node = (JsonObject)(node[part] ??= new JsonObject());
            }

            node[parts[^1]] = "/chart-owned";
            Assert.That(SchemaValidator.Validate(values), Is.Not.Empty, $"config.{string.Join('.', parts)} must be refused: the chart sets {env.Name}");
        }
    }

    [Test]
    public void Pdb_topology_spread_networkpolicy_and_servicemonitor_are_there()
    {
        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(RepoPaths.Template("pdb.yaml")), Does.Contain("kind: PodDisruptionBudget").And.Contain("maxUnavailable:"));
            Assert.That(Deployment, Does.Contain("topologyKey: kubernetes.io/hostname").And.Contain("topologyKey: topology.kubernetes.io/zone"));
            Assert.That(File.ReadAllText(RepoPaths.Template("networkpolicy.yaml")), Does.Contain("kind: NetworkPolicy").And.Contain("- port: grpc"));
            Assert.That(File.ReadAllText(RepoPaths.Template("servicemonitor.yaml")), Does.Contain("path: /metrics").And.Contain("port: http"));
            Assert.That(Deployment, Does.Contain("enableServiceLinks: false"), "service links would inject *_PORT variables into the broker's environment");
        });
    }

    /// <summary>The JitBrokerSettings property path an environment name addresses (configuration keys are case-insensitive).</summary>
    private static List<string> SettingsPath(string envName)
    {
        var type = typeof(JitBrokerSettings);
        var path = new List<string>();
        foreach (var part in envName.Split("__").Skip(1))
        {
            var property = type.GetProperty(part, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            Assert.That(property, Is.Not.Null, $"{envName}: JitBrokerSettings has no '{part}' under {type.Name}");
            path.Add(property!.Name);
            type = property.PropertyType;
        }

        return path;
    }
}
