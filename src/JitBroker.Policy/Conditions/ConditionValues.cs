using System.Globalization;

namespace JitBroker.Policy.Conditions;

/// <summary>How condition values are read, in policy and in requests alike.</summary>
internal static class ConditionValues
{
    private const NumberStyles Number = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint;

    /// <summary>
    /// A plain decimal number: optional '-', digits, optional fraction. No exponent, hex, white space, NaN or
    /// infinity, so "1e9" or " 3" in a request is not a number (and the condition is indeterminate).
    /// </summary>
    public static bool TryParseNumber(string text, out decimal number)
    {
        number = 0;
        if (text.Length is 0 or > 40 || text[0] is '+' || text[^1] is '.')
        {
            return false;
        }

        return decimal.TryParse(text, Number, CultureInfo.InvariantCulture, out number);
    }

    /// <summary><c>true</c> or <c>false</c> in any letter case; anything else is not a boolean.</summary>
    public static bool TryParseBool(string text, out bool value)
    {
        value = false;
        if (string.Equals(text, "true", StringComparison.OrdinalIgnoreCase))
        {
            value = true;
            return true;
        }

        return string.Equals(text, "false", StringComparison.OrdinalIgnoreCase);
    }

    public static string Format(decimal number) => number.ToString(CultureInfo.InvariantCulture);
}
