namespace JitBroker.WebConsole;

/// <summary>How a stored principal reads in a table: never hidden, only shortened (the full form goes in a tooltip).</summary>
public static class ConsolePrincipal
{
    /// <summary>The subject of an <c>{issuer}#{subject}</c> person principal; any other principal (an agent id, a SPIFFE id) whole.</summary>
    public static string Short(string principal) =>
        principal.LastIndexOf('#') is var at && at > 0 && at < principal.Length - 1 ? principal[(at + 1)..] : principal;
}
