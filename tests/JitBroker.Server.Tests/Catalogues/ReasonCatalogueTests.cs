using System.Reflection;
using System.Text.RegularExpressions;
using JitBroker.Core;
using NUnit.Framework;

namespace JitBroker.Server.Tests.Catalogues;

/// <summary>
/// Reason codes are a public contract (the <c>jitbroker-reason</c> trailer, audit records): they live in
/// <see cref="Reasons"/> (and the protocol library's <c>OAuthReasons</c>) alone, are unique and well-formed, and change only together with reason-codes.txt.
/// </summary>
public sealed partial class ReasonCatalogueTests
{
    [Test]
    public void Reason_codes_match_the_checked_in_snapshot() =>
        CatalogueSnapshot.AssertMatches("reason-codes.txt", Codes().OrderBy(c => c.Code, StringComparer.Ordinal).Select(c => $"{c.Code} {c.Name}"));

    [Test]
    public void Every_reason_code_is_unique_and_dotted_lowercase()
    {
        var codes = Codes();
        Assert.That(codes, Has.Count.GreaterThan(80), "reflection found the catalogue");
        Assert.That(codes.GroupBy(c => c.Code).Where(g => g.Count() > 1).Select(g => g.Key), Is.Empty, "one code, two names");
        Assert.That(codes.Where(c => !CodeShape().IsMatch(c.Code)).Select(c => c.Name), Is.Empty);
    }

    [Test]
    public void No_type_outside_the_catalogue_defines_reason_codes()
    {
        // The old shapes: a FooReasons class per component, or Reason* constants on the class that raises them.
        var elsewhere = from assembly in CatalogueSnapshot.SourceAssemblies()
                        from type in assembly.GetTypes()
                        where !IsCatalogue(type)
                        from field in type.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly)
                        where field.IsLiteral && field.FieldType == typeof(string) && CodeShape().IsMatch((string)field.GetRawConstantValue()!)
                            && (type.Name.EndsWith("Reasons", StringComparison.Ordinal) || field.Name.StartsWith("Reason", StringComparison.Ordinal))
                        select $"{type.FullName}.{field.Name}";
        Assert.That(elsewhere, Is.Empty);
    }

    // Three roots: the broker's catalogue, the protocol library's (JitBroker.OAuth depends on the BCL alone so that tool-side
    // code can reuse it) and the tool-side library's (JitBroker.ToolGuard: its codes reach the broker in use reports);
    // all are checked here together, one namespace of codes.
    private static bool IsCatalogue(Type type) =>
        type == typeof(Reasons) || type == typeof(JitBroker.OAuth.OAuthReasons) || type == typeof(JitBroker.ToolGuard.ToolGuardReasons)
        || type.DeclaringType is { } outer && IsCatalogue(outer);

    private static List<(string Code, string Name)> Codes()
    {
        static IEnumerable<(string, string)> Of(Type type, string prefix) =>
            type.GetFields(BindingFlags.Public | BindingFlags.Static)
                .Where(f => f.IsLiteral && f.FieldType == typeof(string))
                .Select(f => ((string)f.GetRawConstantValue()!, prefix + f.Name))
                .Concat(type.GetNestedTypes().SelectMany(t => Of(t, $"{prefix}{t.Name}.")));
        return [.. Of(typeof(Reasons), "Reasons."), .. Of(typeof(JitBroker.OAuth.OAuthReasons), "OAuthReasons."),
            .. Of(typeof(JitBroker.ToolGuard.ToolGuardReasons), "ToolGuardReasons.")];
    }

    [GeneratedRegex("^[a-z][a-z0-9_]*\\.[a-z][a-z0-9_]*$")]
    private static partial Regex CodeShape();
}
