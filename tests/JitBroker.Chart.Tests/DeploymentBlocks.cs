using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace JitBroker.Chart.Tests;

/// <summary>One environment variable of the broker container as the chart declares it.</summary>
internal sealed record EnvVar(string Name, string? Value, string? FieldPath, (string Secret, string Key)? SecretRef);

/// <summary>One volume mount of the broker container.</summary>
internal sealed record Mount(string Name, string MountPath, string? SubPath, bool ReadOnly);

/// <summary>
/// Reads the two marked blocks of templates/deployment.yaml (<c># BEGIN broker-env</c>, <c># BEGIN broker-mounts</c>)
/// for a given set of values. This is NOT a template engine: the blocks may contain only literal values,
/// <c>{{- if .Values.x }}</c> / <c>{{- if not .Values.x }}</c> guards with <c>{{- end }}</c>, and
/// <c>{{ .Values.x | quote }}</c>; any other line fails the test, so the block cannot silently outgrow what is
/// checked here. Full rendering is checked by scripts/check-chart.sh where helm is installed.
/// </summary>
internal static partial class DeploymentBlocks
{
    public static string DeploymentText => File.ReadAllText(RepoPaths.Template("deployment.yaml"));

    public static IReadOnlyList<EnvVar> Env(JsonNode values, bool allBranches = false)
    {
        var result = new List<EnvVar>();
        string? name = null;
        string? value = null, fieldPath = null, secret = null, key = null;
        void Flush()
        {
            if (name is not null)
            {
                result.Add(new EnvVar(name, value, fieldPath, secret is null ? null : (secret, key ?? throw Unsupported("secretKeyRef without key"))));
            }

            name = value = fieldPath = secret = key = null;
        }

        foreach (var line in Walk("broker-env", values, allBranches))
        {
            if (ListItem().Match(line) is { Success: true } item)
            {
                Flush();
                name = item.Groups[1].Value;
            }
            else if (name is null)
            {
                throw Unsupported(line);
            }
            else if (line.StartsWith("value: ", StringComparison.Ordinal))
            {
                value = Scalar(line["value: ".Length..], values);
            }
            else if (line is "valueFrom:" or "fieldRef:" or "secretKeyRef:")
            {
                continue;
            }
            else if (line.StartsWith("fieldPath: ", StringComparison.Ordinal))
            {
                fieldPath = line["fieldPath: ".Length..];
            }
            else if (line.StartsWith("name: ", StringComparison.Ordinal))
            {
                secret = Scalar(line["name: ".Length..], values);
            }
            else if (line.StartsWith("key: ", StringComparison.Ordinal))
            {
                key = Scalar(line["key: ".Length..], values);
            }
            else
            {
                throw Unsupported(line);
            }
        }

        Flush();
        return result;
    }

    public static IReadOnlyList<Mount> Mounts(JsonNode values, bool allBranches = false)
    {
        var result = new List<Mount>();
        string? name = null, path = null, subPath = null;
        var readOnly = false;
        void Flush()
        {
            if (name is not null)
            {
                result.Add(new Mount(name, path ?? throw Unsupported($"mount {name} without mountPath"), subPath, readOnly));
            }

            name = path = subPath = null;
            readOnly = false;
        }

        foreach (var line in Walk("broker-mounts", values, allBranches))
        {
            if (ListItem().Match(line) is { Success: true } item)
            {
                Flush();
                name = item.Groups[1].Value;
            }
            else if (line.StartsWith("mountPath: ", StringComparison.Ordinal))
            {
                path = Scalar(line["mountPath: ".Length..], values);
            }
            else if (line.StartsWith("subPath: ", StringComparison.Ordinal))
            {
                subPath = Scalar(line["subPath: ".Length..], values);
            }
            else if (line == "readOnly: true")
            {
                readOnly = true;
            }
            else
            {
                throw Unsupported(line);
            }
        }

        Flush();
        return result;
    }

    /// <summary>The block's meaningful lines whose guards hold (or all of them), with the guard lines consumed.</summary>
    private static IEnumerable<string> Walk(string block, JsonNode values, bool allBranches)
    {
        var lines = DeploymentText.Split('\n').Select(l => l.Trim()).ToList();
        var begin = lines.FindIndex(l => l.StartsWith("# BEGIN " + block, StringComparison.Ordinal));
        var end = lines.FindIndex(l => l.StartsWith("# END " + block, StringComparison.Ordinal));
        if (begin < 0 || end < begin)
        {
            throw new InvalidOperationException($"deployment.yaml has no '# BEGIN {block}' … '# END {block}' block.");
        }

        var guards = new Stack<bool>();
        foreach (var line in lines.Skip(begin + 1).Take(end - begin - 1))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            if (Guard().Match(line) is { Success: true } guard)
            {
                var truthy = Values.IsTruthy(Values.At(values, guard.Groups[2].Value));
                guards.Push(allBranches || (guard.Groups[1].Success ? !truthy : truthy));
            }
            else if (EndGuard().IsMatch(line))
            {
                guards.Pop();
            }
            else if (line.Contains("{{", StringComparison.Ordinal) && !QuotedValue().IsMatch(line))
            {
                throw Unsupported(line);
            }
            else if (guards.All(g => g))
            {
                yield return line;
            }
        }

        if (guards.Count != 0)
        {
            throw Unsupported($"{guards.Count} unclosed if in {block}");
        }
    }

    private static string Scalar(string text, JsonNode values)
    {
        if (QuotedValue().Match(text) is { Success: true } substitution)
        {
            return Values.At(values, substitution.Groups[1].Value)?.ToString() ?? "";
        }

        if (text.Length >= 2 && text[0] == '"' && text[^1] == '"')
        {
            return text[1..^1];
        }

        // Unquoted plain scalars are allowed for paths and names only (no YAML typing surprises).
        return PlainPathOrName().IsMatch(text) ? text : throw Unsupported(text);
    }

    private static InvalidOperationException Unsupported(string line) =>
        new($"deployment.yaml: '{line}' is outside the subset tests/JitBroker.Chart.Tests understands (literals, if .Values.x, .Values.x | quote).");

    [GeneratedRegex(@"^- name: ([A-Za-z_][A-Za-z0-9_.-]*)$")]
    private static partial Regex ListItem();

    [GeneratedRegex(@"^\{\{-? if (not )?\.Values\.([A-Za-z0-9_.]+) -?\}\}$")]
    private static partial Regex Guard();

    [GeneratedRegex(@"^\{\{-? end -?\}\}$")]
    private static partial Regex EndGuard();

    [GeneratedRegex(@"\{\{ \.Values\.([A-Za-z0-9_.]+) \| quote \}\}$")]
    private static partial Regex QuotedValue();

    [GeneratedRegex(@"^[A-Za-z0-9_./-]+$")]
    private static partial Regex PlainPathOrName();
}
