using System.Text.Json.Nodes;
using NUnit.Framework;

namespace JitBroker.Chart.Tests;

/// <summary>values.schema.json accepts the chart's defaults and documented examples, and rejects bad values for the stated reason.</summary>
public sealed class ValuesSchemaTests
{
    public static IEnumerable<string> BadFiles() =>
        Directory.GetFiles(RepoPaths.TestData("bad-values"), "*.yaml").Select(Path.GetFileName).Order()!;

    public static IEnumerable<string> GoodFiles() =>
        Directory.GetFiles(RepoPaths.TestData("good-values"), "*.yaml").Select(Path.GetFileName).Order()!;

    [Test]
    public void Default_values_are_valid()
    {
        var errors = SchemaValidator.Validate(Values.Effective());
        Assert.That(errors, Is.Empty);
    }

    [Test]
    public void The_production_example_is_valid()
    {
        var errors = SchemaValidator.Validate(Values.Effective(RepoPaths.Example("production-sentinel-vault.yaml")));
        Assert.That(errors, Is.Empty);
    }

    [TestCaseSource(nameof(GoodFiles))]
    public void Good_values_are_accepted(string file)
    {
        var errors = SchemaValidator.Validate(Values.Effective(Path.Combine(RepoPaths.TestData("good-values"), file)));
        Assert.That(errors, Is.Empty);
    }

    [TestCaseSource(nameof(BadFiles))]
    public void Bad_values_are_rejected_for_the_stated_reason(string file)
    {
        var path = Path.Combine(RepoPaths.TestData("bad-values"), file);
        var expect = File.ReadLines(path).First();
        Assert.That(expect, Does.StartWith("# expect: "), "each bad values file states, in its first line, what the error must mention");

        var errors = SchemaValidator.Validate(Values.Effective(path));

        Assert.That(errors, Has.Some.Contains(expect["# expect: ".Length..]), string.Join("\n", errors));
    }

    [Test]
    public void The_schema_refuses_keys_at_the_top_level_that_values_yaml_does_not_have()
    {
        var defaults = Values.Effective();
        var schema = (JsonObject)JsonNode.Parse(File.ReadAllText(RepoPaths.Schema))!;
        var declared = ((JsonObject)schema["properties"]!).Select(p => p.Key).Except(["global"]);

        Assert.Multiple(() =>
        {
            Assert.That(schema["additionalProperties"]!.GetValue<bool>(), Is.False);
            Assert.That(defaults.Select(p => p.Key), Is.EquivalentTo(declared), "values.yaml and the schema list the same top-level keys");
        });
    }
}
