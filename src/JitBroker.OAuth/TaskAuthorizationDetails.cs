using System.Text;
using System.Text.Json;

namespace JitBroker.OAuth;

/// <summary>
/// The one <c>jitbroker_task</c> object of an RFC 9396 <c>authorization_details</c> parameter. Null members were not
/// sent; <see cref="Tools"/> and <see cref="Locations"/> stay null when absent so the caller can tell "not stated"
/// from "stated empty".
/// </summary>
internal sealed record TaskAuthorizationDetails(
    string? TaskId, string? Action, string? Purpose, IReadOnlyList<string>? Tools, IReadOnlyList<string> Resources,
    IReadOnlyDictionary<string, string> Context, IReadOnlyList<string>? Locations, TimeSpan? Ttl)
{
    public const int MaxBytes = 16 * 1024;
    public const int MaxTtlSeconds = 86400;

    /// <summary>Parses the parameter value strictly; throws invalid_authorization_details with a reason.</summary>
    public static TaskAuthorizationDetails Parse(string raw)
    {
        if (Encoding.UTF8.GetByteCount(raw) > MaxBytes)
        {
            throw Refuse(OAuthReasons.DetailsTooLarge, $"authorization_details is over {MaxBytes} bytes");
        }

        using var document = StrictJson.TryParse(raw)
            ?? throw Refuse(OAuthReasons.DetailsMalformed, "authorization_details is not JSON");
        var root = document.RootElement;
        if (StrictJson.HasDuplicateMembers(root))
        {
            throw Refuse(OAuthReasons.DetailsDuplicateMember, "authorization_details names a member twice");
        }

        if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() != 1 || root[0].ValueKind != JsonValueKind.Object)
        {
            throw Refuse(OAuthReasons.DetailsNotOneObject, "authorization_details must be a JSON array of exactly one object");
        }

        var detail = root[0];
        var type = detail.TryGetProperty("type", out var typeElement) ? StrictJson.StringOrNull(typeElement)
            : throw Refuse(OAuthReasons.DetailsWrongType, "authorization_details type is missing");
        if (type != TaskIntentParameters.AuthorizationDetailsType)
        {
            throw type is null
                ? Refuse(OAuthReasons.DetailsWrongType, "authorization_details type must be a string")
                : Refuse(OAuthReasons.DetailsUnknownType, $"authorization_details type must be {TaskIntentParameters.AuthorizationDetailsType}");
        }

        string? taskId = null, action = null, purpose = null;
        string[]? tools = null, locations = null;
        string[] resources = [];
        var context = new Dictionary<string, string>(StringComparer.Ordinal);
        TimeSpan? ttl = null;
        foreach (var member in detail.EnumerateObject())
        {
            switch (member.Name)
            {
                case "type":
                    break;
                case "task_id":
                    taskId = NonEmptyString(member);
                    break;
                case "action":
                    action = NonEmptyString(member);
                    break;
                case "purpose":
                    purpose = NonEmptyString(member);
                    break;
                case "tools":
                    tools = StringSet(member);
                    break;
                case "resources":
                    resources = StringSet(member);
                    break;
                case "locations":
                    locations = StringSet(member);
                    if (locations.Any(l => !ResourceUri.IsValid(l)))
                    {
                        throw Refuse(OAuthReasons.DetailsInvalidValue, "authorization_details locations must be absolute URIs without a fragment");
                    }

                    break;
                case "context":
                    context = StringMap(member);
                    break;
                case "ttl_seconds":
                    ttl = ReadTtl(member.Value);
                    break;
                default:
                    throw Refuse(OAuthReasons.DetailsUnknownMember, "authorization_details has a member jitbroker_task does not define");
            }
        }

        return new TaskAuthorizationDetails(taskId, action, purpose, tools, resources, context, locations, ttl);
    }

    private static string NonEmptyString(JsonProperty member)
    {
        var value = StrictJson.StringOrNull(member.Value) ?? throw WrongType(member.Name, "a string");
        return value.Length > 0 ? value : throw Refuse(OAuthReasons.DetailsInvalidValue, $"authorization_details {member.Name} is empty");
    }

    private static string[] StringSet(JsonProperty member)
    {
        if (member.Value.ValueKind != JsonValueKind.Array)
        {
            throw WrongType(member.Name, "an array of strings");
        }

        var values = new List<string>();
        foreach (var item in member.Value.EnumerateArray())
        {
            var value = StrictJson.StringOrNull(item) ?? throw WrongType(member.Name, "an array of strings");
            if (value.Length == 0 || values.Contains(value, StringComparer.Ordinal))
            {
                throw Refuse(OAuthReasons.DetailsInvalidValue, $"authorization_details {member.Name} has an empty or repeated entry");
            }

            values.Add(value);
        }

        return [.. values];
    }

    private static Dictionary<string, string> StringMap(JsonProperty member)
    {
        if (member.Value.ValueKind != JsonValueKind.Object)
        {
            throw WrongType(member.Name, "an object of strings");
        }

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in member.Value.EnumerateObject())
        {
            var value = StrictJson.StringOrNull(entry.Value) ?? throw WrongType(member.Name, "an object of strings");
            if (entry.Name.Length == 0)
            {
                throw Refuse(OAuthReasons.DetailsInvalidValue, "authorization_details context has an empty key");
            }

            map[entry.Name] = value; // duplicates were refused for the whole document already
        }

        return map;
    }

    private static TimeSpan ReadTtl(JsonElement value)
    {
        // TryGetInt64 refuses 1.5, 1e3 and 1.0: the member is an integer on the wire, not a number that happens to be whole.
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var seconds) || seconds is < 1 or > MaxTtlSeconds)
        {
            throw Refuse(OAuthReasons.DetailsTtlInvalid, $"authorization_details ttl_seconds must be an integer from 1 to {MaxTtlSeconds}");
        }

        return TimeSpan.FromSeconds(seconds);
    }

    private static OAuthProtocolException WrongType(string member, string expected) =>
        Refuse(OAuthReasons.DetailsWrongType, $"authorization_details {member} must be {expected}");

    private static OAuthProtocolException Refuse(string reason, string description) =>
        new(OAuthErrors.InvalidAuthorizationDetails, reason, description);
}
