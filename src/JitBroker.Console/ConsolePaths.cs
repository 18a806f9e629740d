namespace JitBroker.WebConsole;

/// <summary>The console's routes (a contract: browser tests, webhooks' deep links and docs/console.md rely on them).</summary>
public static class ConsolePaths
{
    public const string Base = "/console";
    public const string Overview = Base + "/";
    public const string Approvals = Base + "/approvals";
    public const string SignInCallback = Base + "/signin-oidc";
    public const string SignOut = Base + "/signout";
    public const string Denied = Base + "/denied";
    public const string Stylesheet = Base + "/console.css";

    public static string Approval(string approvalId) => Approvals + "/" + Uri.EscapeDataString(approvalId);
}
