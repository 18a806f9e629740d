using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NUnit.Framework;
using YamlDotNet.RepresentationModel;

namespace JitBroker.Chart.Tests;

/// <summary>
/// Every chart file parses. Templates are Go templates, which only helm renders (scripts/check-chart.sh); here
/// their actions are checked for balance, and the YAML around them parses once the actions are blanked out.
/// </summary>
public sealed partial class WellFormedTests
{
    public static IEnumerable<string> Templates() =>
        Directory.GetFiles(Path.Combine(RepoPaths.Chart, "templates")).Select(Path.GetFileName).Order()!;

    public static IEnumerable<string> YamlFiles() =>
        new[] { "Chart.yaml", "values.yaml" }.Concat(Directory.GetFiles(Path.Combine(RepoPaths.Chart, "examples"), "*.yaml")
            .Select(f => Path.GetRelativePath(RepoPaths.Chart, f))).Order();

    [TestCaseSource(nameof(YamlFiles))]
    public void Yaml_files_parse_without_tabs_or_duplicate_keys(string file)
    {
        var text = File.ReadAllText(Path.Combine(RepoPaths.Chart, file));
        Assert.That(text, Does.Not.Contain("\t"));
        Assert.DoesNotThrow(() => new YamlStream().Load(new StringReader(text)));
    }

    [Test]
    public void Chart_yaml_is_a_helm_3_application_chart()
    {
        var chart = Values.LoadYamlFile(Path.Combine(RepoPaths.Chart, "Chart.yaml"))!;
        Assert.Multiple(() =>
        {
            Assert.That(chart["apiVersion"]!.ToString(), Is.EqualTo("v2"));
            Assert.That(chart["name"]!.ToString(), Is.EqualTo("jitbroker"));
            Assert.That(chart["type"]!.ToString(), Is.EqualTo("application"));
            Assert.That(chart["version"]!.ToString(), Does.Match(@"^\d+\.\d+\.\d+$"));
            Assert.That(chart["appVersion"]!.ToString(), Is.Not.Empty);
        });
    }

    [Test]
    public void The_schema_is_json_and_declares_draft_07()
    {
        var schema = JsonNode.Parse(File.ReadAllText(RepoPaths.Schema))!;
        Assert.That(schema["$schema"]!.ToString(), Is.EqualTo("http://json-schema.org/draft-07/schema#"));
    }

    [TestCaseSource(nameof(Templates))]
    public void Template_actions_are_closed_and_blocks_balanced(string file)
    {
        var text = File.ReadAllText(RepoPaths.Template(file));
        var depth = 0;
        foreach (var (line, number) in text.Split('\n').Select((l, i) => (l, i + 1)))
        {
            Assert.That(Regex.Count(line, @"\{\{"), Is.EqualTo(Regex.Count(line, @"\}\}")), $"{file}:{number}: an action spans lines");
            foreach (Match action in Action().Matches(line))
            {
                var body = action.Groups[1].Value.Trim();
                if (Opener().IsMatch(body))
                {
                    depth++;
                }
                else if (body == "end")
                {
                    depth--;
                    Assert.That(depth, Is.GreaterThanOrEqualTo(0), $"{file}:{number}: end without a block");
                }
            }
        }

        Assert.That(depth, Is.Zero, $"{file}: unclosed if/range/with/define");
    }

    [TestCaseSource(nameof(Templates))]
    public void Template_yaml_parses_once_actions_are_blanked(string file)
    {
        if (!file.EndsWith(".yaml", StringComparison.Ordinal))
        {
            Assert.Pass("not a manifest");
        }

        var blanked = string.Join('\n', File.ReadAllText(RepoPaths.Template(file)).Split('\n')
            .Where(l => !WholeLineActions().IsMatch(l))
            .Select(l => Action().Replace(l, "x")));

        Assert.That(blanked, Does.Not.Contain("\t"));
        var stream = new YamlStream();
        Assert.DoesNotThrow(() => stream.Load(new StringReader(blanked)), blanked);
        foreach (var document in stream.Documents)
        {
            var root = (YamlMappingNode)document.RootNode;
            Assert.That(root.Children.Keys.Select(k => k.ToString()), Is.SupersetOf(new[] { "apiVersion", "kind", "metadata" }));
        }
    }

    [GeneratedRegex(@"\{\{-?(.*?)-?\}\}")]
    private static partial Regex Action();

    [GeneratedRegex(@"^(if|range|with|define|block)\b")]
    private static partial Regex Opener();

    [GeneratedRegex(@"^\s*(\{\{.*?\}\}\s*)+$")]
    private static partial Regex WholeLineActions();
}
