using System.Text;
using NUnit.Framework;

namespace JitBroker.OAuth.Tests;

/// <summary>The form body: RFC 6749 §3.1/§3.2 strictness over WHATWG urlencoded decoding.</summary>
public sealed class OAuthFormTests
{
    private static OAuthForm Parse(string body, params string[] repeatable) => OAuthForm.Parse(Encoding.UTF8.GetBytes(body), repeatable);

    private static void Refused(string body, string reason) =>
        Refusal.Expect(() => Parse(body), OAuthErrors.InvalidRequest, reason);

    [Test]
    public void Parameters_are_percent_and_plus_decoded()
    {
        var form = Parse("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&scope=read+tool%3Ajira&x=%2B%e2%82%AC");
        Assert.Multiple(() =>
        {
            Assert.That(form["grant_type"], Is.EqualTo("urn:ietf:params:oauth:grant-type:jwt-bearer"));
            Assert.That(form["scope"], Is.EqualTo("read tool:jira"));
            Assert.That(form["x"], Is.EqualTo("+€"));
            Assert.That(form.Names, Is.EquivalentTo(new[] { "grant_type", "scope", "x" }));
        });
    }

    [Test]
    public void An_absent_parameter_reads_as_null_and_no_values()
    {
        var form = Parse("a=1");
        Assert.That(form["b"], Is.Null);
        Assert.That(form.All("b"), Is.Empty);
    }

    [Test]
    public void Names_are_case_sensitive() => Assert.That(Parse("Scope=x")["scope"], Is.Null);

    [Test]
    public void An_empty_body_has_no_parameters() => Assert.That(Parse("").Names, Is.Empty);

    [TestCase("a=&b=2")]
    [TestCase("a&b=2")]
    public void A_parameter_sent_without_a_value_is_treated_as_omitted(string body)
    {
        var form = Parse(body);
        Assert.That(form["a"], Is.Null);
        Assert.That(form.Names, Is.EqualTo(new[] { "b" }));
    }

    [Test]
    public void An_empty_value_does_not_count_as_a_second_sending() => Assert.That(Parse("a=&a=1")["a"], Is.EqualTo("1"));

    [Test]
    public void Empty_sequences_between_ampersands_are_skipped() => Assert.That(Parse("&a=1&&b=2&")["b"], Is.EqualTo("2"));

    [Test]
    public void A_parameter_sent_twice_is_refused() => Refused("scope=a&scope=b", OAuthReasons.FormDuplicateParameter);

    [Test]
    public void A_parameter_sent_twice_under_encodings_of_one_name_is_refused() => Refused("scope=a&sc%6Fpe=b", OAuthReasons.FormDuplicateParameter);

    [Test]
    public void A_repeatable_parameter_keeps_every_value_in_order()
    {
        var form = Parse("resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb&scope=x", "resource");
        Assert.That(form.All("resource"), Is.EqualTo(new[] { "https://a", "https://b" }));
        Assert.That(form["scope"], Is.EqualTo("x"));
    }

    [Test]
    public void Reading_one_value_of_a_repeatable_parameter_sent_twice_is_refused()
    {
        var form = Parse("resource=a&resource=b", "resource");
        Refusal.Expect(() => _ = form["resource"], OAuthErrors.InvalidRequest, OAuthReasons.FormDuplicateParameter);
    }

    [Test]
    public void A_repeatable_parameter_sent_once_reads_as_its_value() => Assert.That(Parse("resource=a", "resource")["resource"], Is.EqualTo("a"));

    [TestCase("a=%")]
    [TestCase("a=%4")]
    [TestCase("a=%G1")]
    [TestCase("a=%%41")]
    [TestCase("a%=1")]
    [TestCase("a=%-1")]
    public void Invalid_percent_encoding_is_refused(string body) => Refused(body, OAuthReasons.FormBadPercentEncoding);

    [TestCase("a=%C3%28", TestName = "Bad UTF-8 is refused: invalid continuation")]
    [TestCase("a=%FF", TestName = "Bad UTF-8 is refused: 0xFF")]
    [TestCase("a=%C0%80", TestName = "Bad UTF-8 is refused: overlong NUL")]
    [TestCase("a=%C1%BF", TestName = "Bad UTF-8 is refused: overlong two-byte")]
    [TestCase("a=%E0%80%AF", TestName = "Bad UTF-8 is refused: overlong slash")]
    [TestCase("a=%ED%A0%80", TestName = "Bad UTF-8 is refused: encoded surrogate")]
    [TestCase("a=%F4%90%80%80", TestName = "Bad UTF-8 is refused: beyond U+10FFFF")]
    [TestCase("a=%E2%82", TestName = "Bad UTF-8 is refused: truncated sequence")]
    [TestCase("%C3%28=1", TestName = "Bad UTF-8 is refused: in a name")]
    public void Bad_utf8_is_refused(string body) => Refused(body, OAuthReasons.FormBadUtf8);

    [Test]
    public void Raw_bytes_that_are_not_utf8_are_refused() =>
        Refusal.Expect(() => OAuthForm.Parse([(byte)'a', (byte)'=', 0xFF]), OAuthErrors.InvalidRequest, OAuthReasons.FormBadUtf8);

    [TestCase("a=%00")]
    [TestCase("a=x%0Ay")]
    [TestCase("a=%09")]
    [TestCase("a=%7F")]
    [TestCase("a=%C2%85")]
    [TestCase("a=x\ny")]
    [TestCase("a%00=1")]
    public void Control_characters_are_refused(string body) => Refused(body, OAuthReasons.FormControlCharacter);

    [Test]
    public void Sixty_four_parameters_are_accepted() =>
        Assert.That(Parse(string.Join('&', Enumerable.Range(0, 64).Select(i => $"p{i}=v"))).Names.Count(), Is.EqualTo(64));

    [Test]
    public void Sixty_five_parameters_are_refused() =>
        Refused(string.Join('&', Enumerable.Range(0, 65).Select(i => $"p{i}=v")), OAuthReasons.FormTooManyParameters);

    [Test]
    public void Sixty_five_empty_parameters_are_refused_too() =>
        Refused(string.Join('&', Enumerable.Range(0, 65).Select(i => $"p{i}=")), OAuthReasons.FormTooManyParameters);

    [Test]
    public void A_value_of_16_KiB_is_accepted() => Assert.That(Parse("a=" + new string('x', 16 * 1024))["a"], Has.Length.EqualTo(16 * 1024));

    [Test]
    public void A_value_over_16_KiB_is_refused() => Refused("a=" + new string('x', 16 * 1024 + 1), OAuthReasons.FormParameterTooLong);

    [Test]
    public void A_value_over_16_KiB_after_decoding_is_refused() => Refused("a=" + string.Concat(Enumerable.Repeat("%E2%82%AC", 5462)), OAuthReasons.FormParameterTooLong);

    [Test]
    public void A_name_over_16_KiB_is_refused() => Refused(new string('n', 16 * 1024 + 1) + "=1", OAuthReasons.FormParameterTooLong);

    [Test]
    public void A_body_over_64_KiB_is_refused() => Refused("a=" + new string('x', OAuthForm.MaxBodyBytes), OAuthReasons.FormTooLarge);

    [Test]
    public void An_empty_name_is_refused() => Refused("=value", OAuthReasons.FormEmptyName);

    [Test]
    public void The_description_of_a_duplicate_never_echoes_a_hostile_name()
    {
        var refusal = Refusal.Expect(() => Parse("%22%5C\u00e9=1&%22%5C\u00e9=2"), OAuthErrors.InvalidRequest, OAuthReasons.FormDuplicateParameter);
        Assert.That(refusal.Description, Does.Not.Contain("\""));
    }
}
