using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.ApplicationParts;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace JitBroker.WebConsole;

/// <summary>
/// How the host adds the console: <see cref="Add"/> registers services when <c>Console:Enabled</c>; <see cref="Use"/>
/// puts the console's middleware on <c>/console</c> only (after routing); <see cref="Map"/> maps its pages.
/// </summary>
public static class ConsoleSetup
{
    /// <param name="https">True when the console listener speaks TLS: every console cookie is then <c>Secure</c>.</param>
    public static void Add(IServiceCollection services, ConsoleSettings settings, bool https)
    {
        services.AddSingleton(settings);
        services.AddSingleton(new ConsoleSecurityHeaders(ConsoleSecurityHeaders.OriginOf(settings.Oidc.Authority)));
        ConsoleAuthentication.Add(services, settings, https);
        services.AddRazorPages(o =>
            {
                o.Conventions.AuthorizeFolder("/", ConsoleAuthentication.MemberPolicy);
                o.Conventions.AllowAnonymousToPage("/Denied");
                o.Conventions.AllowAnonymousToPage("/Signout");
            })
            .AddMvcOptions(o => o.Filters.Add<ConsoleAntiforgeryFailure>())
            // Only the console's own pages, whatever the entry assembly (the broker, a test host) happens to reference.
            .ConfigureApplicationPartManager(parts =>
            {
                parts.ApplicationParts.Clear();
                var assembly = typeof(ConsoleSetup).Assembly;
                foreach (var part in ApplicationPartFactory.GetApplicationPartFactory(assembly).GetApplicationParts(assembly))
                {
                    parts.ApplicationParts.Add(part);
                }
            });
    }

    /// <summary>
    /// Console middleware for requests under <c>/console</c>: first the listener check (anything else answers 404, the
    /// OIDC callback included), then the security headers, then authentication and authorisation. Call after
    /// <c>UseRouting</c>. Authentication runs nowhere else: the agent and OAuth doors never read a console cookie.
    /// </summary>
    public static void Use(WebApplication app, Func<HttpContext, bool> servesConsole)
    {
        var headers = app.Services.GetRequiredService<ConsoleSecurityHeaders>();
        app.UseWhen(context => context.Request.Path.StartsWithSegments(ConsolePaths.Base), console =>
        {
            console.Use((context, next) =>
            {
                if (!servesConsole(context))
                {
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    return Task.CompletedTask;
                }

                headers.Apply(context.Response);
                return RefuseFailuresAsync(context, next);
            });
            console.UseAuthentication();
            console.UseAuthorization();
        });
        // WebApplication would otherwise add authentication and authorisation in front of every request of every listener.
        // (these are the flags UseAuthentication/UseAuthorization set on the pipeline they are added to).
        var pipeline = (IApplicationBuilder)app;
        pipeline.Properties["__AuthenticationMiddlewareSet"] = true;
        pipeline.Properties["__AuthorizationMiddlewareSet"] = true;
    }

    /// <summary>
    /// The console's fail-closed boundary: an exception (typically the OpenID provider unreachable while building the
    /// sign-in redirect) becomes a 503 page with a stable reason, logged with the exception, never a stack trace.
    /// </summary>
    private static async Task RefuseFailuresAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (Exception ex) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            var log = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("JitBroker.Console");
            ConsoleLog.RequestFailed(log, context.Request.Path, ex);
            var page = ConsoleAntiforgeryFailure.ErrorPage(StatusCodes.Status503ServiceUnavailable, JitBroker.Core.Reasons.Console.Unavailable,
                "The console could not complete this request (is the organisation's sign-in provider reachable?). Try again shortly.");
            context.Response.StatusCode = page.StatusCode!.Value;
            context.Response.ContentType = page.ContentType;
            await context.Response.WriteAsync(page.Content!);
        }
    }

    /// <summary>Maps the pages and the stylesheet; returns the builders so the host can pin them to its listeners.</summary>
    public static IEndpointConventionBuilder[] Map(IEndpointRouteBuilder endpoints)
    {
        var css = ReadStylesheet();
        return
        [
            endpoints.MapRazorPages(),
            endpoints.MapGet(ConsolePaths.Stylesheet, (HttpContext context) =>
            {
                context.Response.Headers.CacheControl = "public, max-age=300";
                return Results.Bytes(css, "text/css; charset=utf-8");
            }).AllowAnonymous(),
        ];
    }

    private static byte[] ReadStylesheet()
    {
        using var stream = typeof(ConsoleSetup).Assembly.GetManifestResourceStream("console.css")
            ?? throw new InvalidOperationException("console.css is not embedded in JitBroker.Console.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
