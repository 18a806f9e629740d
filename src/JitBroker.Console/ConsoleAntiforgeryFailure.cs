using System.Text.Encodings.Web;
using JitBroker.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Core.Infrastructure;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace JitBroker.WebConsole;

/// <summary>
/// Razor Pages validate the anti-forgery token on every POST and answer a bare 400 when it is missing or wrong; this
/// turns that 400 into the console's error page with a stable reason (<see cref="Reasons.Console.AntiforgeryInvalid"/>).
/// </summary>
internal sealed class ConsoleAntiforgeryFailure : IAlwaysRunResultFilter
{
    public void OnResultExecuting(ResultExecutingContext context)
    {
        if (context.Result is IAntiforgeryValidationFailedResult)
        {
            var log = context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("JitBroker.Console");
            ConsoleLog.AntiforgeryRejected(log, context.HttpContext.Request.Path);
            context.Result = ErrorPage(StatusCodes.Status400BadRequest, Reasons.Console.AntiforgeryInvalid,
                "The form was not sent from this console (missing or invalid anti-forgery token). Reload the page and try again.");
        }
    }

    public void OnResultExecuted(ResultExecutedContext context)
    {
    }

    /// <summary>A minimal page carrying the error contract (<c>#error[data-reason]</c>) when no layout can render.</summary>
    public static ContentResult ErrorPage(int status, string reason, string message) => new()
    {
        StatusCode = status,
        ContentType = "text/html; charset=utf-8",
        Content = $"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>JitBroker console</title><link rel="stylesheet" href="{ConsolePaths.Stylesheet}"></head>
            <body><main id="page" data-page="error"><h1>Refused</h1>
            <p id="error" class="error" data-reason="{HtmlEncoder.Default.Encode(reason)}">{HtmlEncoder.Default.Encode(message)}</p>
            <p><a href="{ConsolePaths.Overview}">Back to the console</a></p></main></body></html>
            """,
    };
}
