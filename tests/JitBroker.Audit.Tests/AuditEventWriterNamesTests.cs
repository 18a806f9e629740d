using System.Reflection;
using NUnit.Framework;

namespace JitBroker.Audit.Tests;

/// <summary>
/// <see cref="AuditEventWriter"/> indexes each names array by its enum, so the two must agree member for member. The
/// enum member <c>X</c> names the <see cref="AuditFields"/> constant <c>{prefix}X</c>; checking that mapping here
/// names the slip (a missing, extra or swapped name) instead of leaving it to a golden line that no longer matches.
/// </summary>
public sealed class AuditEventWriterNamesTests
{
    private static IEnumerable<TestCaseData> NamesAndTheirEnums()
    {
        yield return new TestCaseData(typeof(AuditEventWriter.Top), AuditEventWriter.TopNames, "").SetArgDisplayNames("Top");
        yield return new TestCaseData(typeof(AuditEventWriter.Intent), AuditEventWriter.IntentNames, "Intent").SetArgDisplayNames("Intent");
        yield return new TestCaseData(typeof(AuditEventWriter.Use), AuditEventWriter.UseNames, "Use").SetArgDisplayNames("Use");
    }

    [TestCaseSource(nameof(NamesAndTheirEnums))]
    public void Each_names_array_holds_its_enums_members_in_the_enums_order(Type members, string[] names, string fieldPrefix)
    {
        var values = Enum.GetValues(members).Cast<int>().ToArray();

        Assert.That(values, Is.EqualTo(Enumerable.Range(0, values.Length)),
            $"{members.Name}'s values must be 0, 1, 2, ... in declaration order: they index the names array");
        Assert.That(names, Has.Length.EqualTo(values.Length), $"one name per member of {members.Name}");

        Assert.Multiple(() =>
        {
            foreach (var value in values)
            {
                var member = Enum.GetName(members, value)!;
                var field = typeof(AuditFields).GetField(fieldPrefix + member, BindingFlags.Public | BindingFlags.Static);
                Assert.That(field, Is.Not.Null, $"{members.Name}.{member} has no AuditFields.{fieldPrefix}{member}");
                Assert.That(names[value], Is.EqualTo(field?.GetValue(null)),
                    $"{members.Name}Names[{value}] must be AuditFields.{fieldPrefix}{member}");
            }
        });
    }
}
