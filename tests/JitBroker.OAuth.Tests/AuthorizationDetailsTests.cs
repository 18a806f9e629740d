using NUnit.Framework;
using static JitBroker.OAuth.Tests.TaskIntentParametersTests;

namespace JitBroker.OAuth.Tests;

/// <summary>authorization_details (RFC 9396 §2): one jitbroker_task object, every member typed, hostile JSON refused.</summary>
public sealed class AuthorizationDetailsTests
{
    private const string Api = "https://api.example.com/";

    private static DeclaredTask WithDetails(string json) => Parse(("resource", Api), ("scope", "read"), ("authorization_details", json));

    private static void Refused(string json, string reason) =>
        Refusal.Expect(() => WithDetails(json), OAuthErrors.InvalidAuthorizationDetails, reason);

    [Test]
    public void Empty_details_are_treated_as_omitted() => Assert.That(WithDetails("").Action, Is.EqualTo("read"));

    [Test]
    public void A_minimal_object_is_accepted() => Assert.That(WithDetails(Details("")).Action, Is.EqualTo("read"));

    [TestCase(" ", TestName = "Malformed details are refused: blank")]
    [TestCase("[{\"type\":\"jitbroker_task\"", TestName = "Malformed details are refused: truncated")]
    [TestCase("[{\"type\":\"jitbroker_task\",}]", TestName = "Malformed details are refused: trailing comma")]
    [TestCase("[{\"type\":\"jitbroker_task\"/*c*/}]", TestName = "Malformed details are refused: comment")]
    [TestCase("[{'type':'jitbroker_task'}]", TestName = "Malformed details are refused: single quotes")]
    [TestCase("[{\"type\":\"jitbroker_task\"}] []", TestName = "Malformed details are refused: trailing data")]
    [TestCase("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", TestName = "Malformed details are refused: too deep")]
    [TestCase("[{\"type\":\"jitbroker_task\",\"action\":\"\\ud800\"]", TestName = "Malformed details are refused: unbalanced")]
    public void Malformed_json_is_refused(string json) => Refused(json, OAuthReasons.DetailsMalformed);

    [Test]
    public void Details_over_16_KiB_are_refused() =>
        Refusal.Expect(() => TaskAuthorizationDetails.Parse(Details($"\"purpose\":\"{new string('p', 16 * 1024)}\"")),
            OAuthErrors.InvalidAuthorizationDetails, OAuthReasons.DetailsTooLarge);

    [Test]
    public void Details_over_16_KiB_in_a_form_are_refused_by_the_form_first() =>
        Refusal.Expect(() => WithDetails(Details($"\"purpose\":\"{new string('p', 16 * 1024)}\"")),
            OAuthErrors.InvalidRequest, OAuthReasons.FormParameterTooLong);

    [TestCase("[{\"type\":\"jitbroker_task\",\"type\":\"jitbroker_task\"}]", TestName = "A duplicate type member is refused")]
    [TestCase("[{\"type\":\"jitbroker_task\",\"action\":\"read\",\"act\\u0069on\":\"write\"}]", TestName = "A duplicate member spelt with an escape is refused")]
    [TestCase("[{\"type\":\"jitbroker_task\",\"context\":{\"a\":\"1\",\"a\":\"2\"}}]", TestName = "A duplicate context key is refused")]
    public void Duplicate_members_are_refused(string json) => Refused(json, OAuthReasons.DetailsDuplicateMember);

    [TestCase("{\"type\":\"jitbroker_task\"}", TestName = "Details that are an object, not an array, are refused")]
    [TestCase("[]", TestName = "An empty details array is refused")]
    [TestCase("[{\"type\":\"jitbroker_task\"},{\"type\":\"jitbroker_task\"}]", TestName = "Two details objects are refused")]
    [TestCase("[\"jitbroker_task\"]", TestName = "A details entry that is not an object is refused")]
    [TestCase("null", TestName = "Null details are refused")]
    public void Anything_but_an_array_of_one_object_is_refused(string json) => Refused(json, OAuthReasons.DetailsNotOneObject);

    [Test]
    public void Another_type_is_refused() => Refused("[{\"type\":\"payment_initiation\"}]", OAuthReasons.DetailsUnknownType);

    [TestCase("[{}]", TestName = "A details object without type is refused")]
    [TestCase("[{\"type\":null}]", TestName = "A null type is refused")]
    [TestCase("[{\"type\":[\"jitbroker_task\"]}]", TestName = "An array type is refused")]
    public void A_missing_or_mistyped_type_is_refused(string json) => Refused(json, OAuthReasons.DetailsWrongType);

    [TestCase("\"actions\":[\"read\"]", TestName = "An unknown member is refused: RFC 9396 actions")]
    [TestCase("\"Action\":\"read\"", TestName = "An unknown member is refused: wrong case")]
    [TestCase("\"__proto__\":{}", TestName = "An unknown member is refused: __proto__")]
    public void Unknown_members_are_refused(string member) => Refused(Details(member), OAuthReasons.DetailsUnknownMember);

    [TestCase("\"task_id\":1")]
    [TestCase("\"task_id\":null")]
    [TestCase("\"action\":true")]
    [TestCase("\"action\":[\"read\"]")]
    [TestCase("\"purpose\":{}")]
    [TestCase("\"tools\":\"jira\"")]
    [TestCase("\"tools\":[1]")]
    [TestCase("\"tools\":[null]")]
    [TestCase("\"tools\":null")]
    [TestCase("\"resources\":{\"a\":\"b\"}")]
    [TestCase("\"locations\":[[\"https://a.example/\"]]")]
    [TestCase("\"context\":[\"a\"]")]
    [TestCase("\"context\":{\"a\":1}")]
    [TestCase("\"context\":{\"a\":null}")]
    [TestCase("\"context\":{\"a\":{\"b\":\"c\"}}")]
    [TestCase("\"action\":\"\\udc00\"")]
    public void Wrong_types_and_nulls_are_refused(string member) => Refused(Details(member), OAuthReasons.DetailsWrongType);

    [TestCase("\"action\":\"\"")]
    [TestCase("\"task_id\":\"\"")]
    [TestCase("\"tools\":[\"\"]")]
    [TestCase("\"tools\":[\"a\",\"a\"]")]
    [TestCase("\"resources\":[\"r\",\"r\"]")]
    [TestCase("\"context\":{\"\":\"x\"}")]
    public void Empty_or_repeated_values_are_refused(string member) => Refused(Details(member), OAuthReasons.DetailsInvalidValue);

    [TestCase("0")]
    [TestCase("-5")]
    [TestCase("86401")]
    [TestCase("1.5")]
    [TestCase("1.0")]
    [TestCase("3e2")]
    [TestCase("\"300\"")]
    [TestCase("null")]
    [TestCase("99999999999999999999999")]
    public void A_ttl_that_is_not_a_positive_integer_up_to_a_day_is_refused(string ttl) =>
        Refused(Details("\"ttl_seconds\":" + ttl), OAuthReasons.DetailsTtlInvalid);

    [TestCase(1)]
    [TestCase(86400)]
    public void A_ttl_within_a_day_is_accepted(int seconds) =>
        Assert.That(WithDetails(Details("\"ttl_seconds\":" + seconds)).RequestedTtl, Is.EqualTo(TimeSpan.FromSeconds(seconds)));
}
