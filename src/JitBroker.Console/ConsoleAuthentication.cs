using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace JitBroker.WebConsole;

/// <summary>
/// Sign-in: a session cookie for the console alone, and the organisation's OpenID provider through ASP.NET Core's
/// OpenID Connect handler (authorization code + PKCE, response in the query so SameSite=Lax cookies survive the return).
/// The cookie keeps the person principal, display name, verified e-mail, <c>auth_time</c> and roles — never a token.
/// </summary>
internal static class ConsoleAuthentication
{
    public const string CookieScheme = "jitbroker-console";
    public const string OidcScheme = "jitbroker-console-oidc";
    public const string MemberPolicy = "console-member";
    public const string ApproverPolicy = "console-approver";
    public const string OperatorPolicy = "console-operator";

    public static void Add(IServiceCollection services, ConsoleSettings settings, bool https)
    {
        var secure = https ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
        var roles = new ConsoleRoleMatcher(settings);
        services.AddAuthentication()
            .AddCookie(CookieScheme, o =>
            {
                o.Cookie.Name = "jitbroker-console";
                o.Cookie.Path = ConsolePaths.Base;
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Lax;
                o.Cookie.SecurePolicy = secure;
                o.ExpireTimeSpan = settings.SessionLifetime;
                o.SlidingExpiration = false;
                o.AccessDeniedPath = ConsolePaths.Denied;
                o.ForwardChallenge = OidcScheme;
            })
            .AddOpenIdConnect(OidcScheme, o => ConfigureOidc(o, settings, secure, roles));
        services.AddAuthorizationBuilder()
            .AddPolicy(MemberPolicy, p => p.AddAuthenticationSchemes(CookieScheme).RequireClaim(ConsoleClaims.Role, ConsoleRoles.Approver, ConsoleRoles.Operator))
            .AddPolicy(ApproverPolicy, p => p.AddAuthenticationSchemes(CookieScheme).RequireClaim(ConsoleClaims.Role, ConsoleRoles.Approver))
            .AddPolicy(OperatorPolicy, p => p.AddAuthenticationSchemes(CookieScheme).RequireClaim(ConsoleClaims.Role, ConsoleRoles.Operator));
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "jitbroker-console-af";
            o.Cookie.Path = ConsolePaths.Base;
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = secure;
            o.SuppressXFrameOptionsHeader = true; // ConsoleSecurityHeaders sends DENY on every response
        });
    }

    private static void ConfigureOidc(OpenIdConnectOptions o, ConsoleSettings settings, CookieSecurePolicy secure, ConsoleRoleMatcher roles)
    {
        var oidc = settings.Oidc;
        o.Authority = oidc.Authority;
        o.ClientId = oidc.ClientId;
        o.ClientSecret = oidc.ClientSecretFile is { } file ? File.ReadAllText(file).Trim() : null;
        o.ResponseType = OpenIdConnectResponseType.Code;
        o.ResponseMode = OpenIdConnectResponseMode.Query;
        o.UsePkce = true;
        o.RequireHttpsMetadata = oidc.RequireHttpsMetadata;
        o.CallbackPath = ConsolePaths.SignInCallback;
        o.SignInScheme = CookieScheme;
        o.SaveTokens = false; // the session holds who the person is, never a token
        o.MapInboundClaims = false;
        o.GetClaimsFromUserInfoEndpoint = false;
        o.DisableTelemetry = true;
        o.Scope.Clear();
        o.Scope.Add("openid");
        foreach (var scope in oidc.Scopes)
        {
            o.Scope.Add(scope);
        }

        o.CorrelationCookie.SameSite = SameSiteMode.Lax;
        o.CorrelationCookie.SecurePolicy = secure;
        o.CorrelationCookie.Path = ConsolePaths.Base;
        o.NonceCookie.SameSite = SameSiteMode.Lax;
        o.NonceCookie.SecurePolicy = secure;
        o.NonceCookie.Path = ConsolePaths.Base;
        var redirectUri = settings.PublicBaseUrl.TrimEnd('/') + ConsolePaths.SignInCallback;
        o.Events = new OpenIdConnectEvents
        {
            // The redirect URI comes from configuration, never from the Host header the browser chose.
            OnRedirectToIdentityProvider = context =>
            {
                context.ProtocolMessage.RedirectUri = redirectUri;
                return Task.CompletedTask;
            },
            OnTokenValidated = context =>
            {
                var person = SessionPrincipal(context.Principal!, settings.GroupClaim, roles);
                context.Principal = person;
                var principal = person.FindFirstValue(ConsoleClaims.Principal)!;
                var granted = string.Join(",", person.FindAll(ConsoleClaims.Role).Select(c => c.Value));
                var log = Log(context.HttpContext);
                ConsoleLog.SignedIn(log, principal, granted);
                return Task.CompletedTask;
            },
            OnRemoteFailure = context =>
            {
                var log = Log(context.HttpContext);
                ConsoleLog.SignInFailed(log, context.Failure);
                context.HandleResponse();
                context.Response.Redirect(ConsolePaths.Denied + "?reason=" + JitBroker.Core.Reasons.Console.SignInFailed);
                return Task.CompletedTask;
            },
        };
    }

    private static ILogger Log(HttpContext context) =>
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("JitBroker.Console");

    /// <summary>The cookie's principal: only what the console needs, roles decided now from configuration.</summary>
    private static ClaimsPrincipal SessionPrincipal(ClaimsPrincipal idToken, string groupClaim, ConsoleRoleMatcher roles)
    {
        // Claims of the validated ID token, by their JWT names (MapInboundClaims is off).
        var subject = idToken.FindFirst("sub") ?? throw new InvalidOperationException("The ID token has no sub.");
        var principal = ConsolePerson.PrincipalOf(idToken.FindFirstValue("iss") ?? subject.Issuer, subject.Value);
        var email = idToken.FindFirstValue("email_verified") == "true" ? idToken.FindFirstValue("email") : null;
        var groups = idToken.FindAll(groupClaim).Select(c => c.Value).ToList();
        var claims = new List<Claim>
        {
            new(ConsoleClaims.Principal, principal),
            // What anti-forgery binds its tokens to (it looks for "sub"): the person, not the whole claim set, so a step-up
            // sign-in (a new auth_time) does not invalidate the form the person is looking at.
            new("sub", principal),
            new(ConsoleClaims.Display, email ?? idToken.FindFirstValue("name") ?? principal),
        };
        if (email is not null)
        {
            claims.Add(new Claim(ConsoleClaims.Email, email));
        }

        if (idToken.FindFirstValue("auth_time") is { } authTime && long.TryParse(authTime, out _))
        {
            claims.Add(new Claim(ConsoleClaims.AuthTime, authTime));
        }

        claims.AddRange(roles.RolesOf(principal, groups).Select(r => new Claim(ConsoleClaims.Role, r)));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, CookieScheme, ConsoleClaims.Display, ConsoleClaims.Role));
    }
}
