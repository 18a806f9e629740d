using Microsoft.AspNetCore.Mvc.RazorPages;

namespace JitBroker.WebConsole.Pages;

/// <summary>The console's landing page (<c>/console/</c>); the operations overview renders here.</summary>
public sealed class OverviewModel : PageModel
{
}
