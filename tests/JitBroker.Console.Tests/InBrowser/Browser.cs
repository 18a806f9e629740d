using System.Collections.ObjectModel;
using System.Net;
using NUnit.Framework;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace JitBroker.Console.Tests.InBrowser;

/// <summary>
/// Debian's chromium, headless, driven through Debian's chromium-driver (Selenium WebDriver; the driver and the browser
/// are given by path, so Selenium Manager never downloads anything). Every page the test looks at is saved as
/// <c>artifacts/screenshots/&lt;test&gt;-&lt;step&gt;.png</c> under the repository root. Missing chromium fails the
/// test with the fix in the message (scripts/test.sh installs it) — never a silent skip.
/// </summary>
public sealed class Browser : IDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";
    public const string ChromeDriverPath = "/usr/bin/chromedriver";

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    private readonly ChromeDriverService _service;
    private readonly string _test;

    private Browser(ChromeDriverService service, ChromeDriver driver, string test)
    {
        _service = service;
        Driver = driver;
        _test = test;
    }

    public ChromeDriver Driver { get; }

    public Uri Url => new(Driver.Url);

    /// <summary>Starts a fresh browser (no cookies, its own profile); screenshots are named after <paramref name="test"/>.</summary>
    public static Browser Start(string? test = null)
    {
        Assert.That(File.Exists(ChromiumPath) && File.Exists(ChromeDriverPath), Is.True,
            $"the browser tests need Debian's chromium and chromium-driver ({ChromiumPath}, {ChromeDriverPath}): apt-get install -y chromium chromium-driver (scripts/test.sh does)");
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromeDriverPath)!, Path.GetFileName(ChromeDriverPath));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = ChromiumPath };
        options.AddArguments("--headless=new", "--no-sandbox", "--ignore-certificate-errors", "--window-size=1280,900", "--disable-dev-shm-usage",
            // Nothing leaves the machine: every name but the loopback address fails at once (the IdP's stock page imports a web font).
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--no-first-run", "--disable-extensions");
        try
        {
            var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
            driver.Manage().Timeouts().PageLoad = TimeSpan.FromSeconds(30);
            return new Browser(service, driver, Sanitize(test ?? TestContext.CurrentContext.Test.Name));
        }
        catch
        {
            service.Dispose();
            throw;
        }
    }

    public void Go(Uri url) => Driver.Navigate().GoToUrl(url);

    /// <summary>
    /// Saves the whole page (not only the 1280x900 window, up to 5000 px tall) as <c>&lt;test&gt;-&lt;step&gt;.png</c>
    /// and returns the file's path: a reviewer sees a form below the fold too.
    /// </summary>
    public string Shot(string step)
    {
        Directory.CreateDirectory(ScreenshotFolder);
        var path = Path.Combine(ScreenshotFolder, $"{_test}-{Sanitize(step)}.png");
        var metrics = (Dictionary<string, object?>)Driver.ExecuteCdpCommand("Page.getLayoutMetrics", [])!;
        var content = (Dictionary<string, object?>)metrics["cssContentSize"]!;
        var clip = new Dictionary<string, object?>
        {
            ["x"] = 0, ["y"] = 0, ["scale"] = 1,
            ["width"] = Convert.ToDouble(content["width"], System.Globalization.CultureInfo.InvariantCulture),
            ["height"] = Math.Min(5000, Convert.ToDouble(content["height"], System.Globalization.CultureInfo.InvariantCulture)),
        };
        var shot = (Dictionary<string, object?>)Driver.ExecuteCdpCommand("Page.captureScreenshot",
            new Dictionary<string, object?> { ["format"] = "png", ["captureBeyondViewport"] = true, ["clip"] = clip })!;
        File.WriteAllBytes(path, Convert.FromBase64String((string)shot["data"]!));
        TestContext.AddTestAttachment(path);
        return path;
    }

    public IWebElement Find(string css) => Driver.FindElement(By.CssSelector(css));

    public ReadOnlyCollection<IWebElement> FindAll(string css) => Driver.FindElements(By.CssSelector(css));

    /// <summary>Waits (bounded) until <paramref name="css"/> matches an element and returns it.</summary>
    public IWebElement WaitFor(string css, TimeSpan? within = null) =>
        Until(d => d.FindElements(By.CssSelector(css)).FirstOrDefault(), within, $"an element matching {css}");

    /// <summary>Waits (bounded) until <paramref name="condition"/> gives a non-null value; the failure names what was awaited and where the browser is.</summary>
    public T Until<T>(Func<IWebDriver, T?> condition, TimeSpan? within = null, string what = "the condition")
    {
        var wait = new WebDriverWait(Driver, within ?? Patience) { PollingInterval = TimeSpan.FromMilliseconds(50) };
        try
        {
            return wait.Until(d => condition(d))!;
        }
        catch (WebDriverTimeoutException)
        {
            Shot("timeout");
            Assert.Fail($"waited {(within ?? Patience).TotalSeconds} s for {what}; the browser is at {Driver.Url}:\n{Text}");
            throw;
        }
    }

    /// <summary>The visible text of the page (for failure messages and text assertions).</summary>
    public string Text => Driver.FindElements(By.TagName("body")).FirstOrDefault()?.Text ?? "";

    /// <summary>The browser's cookies for <paramref name="site"/>, for an HttpClient that acts with the browser's session (a forged request).</summary>
    public CookieContainer CookiesFor(Uri site)
    {
        var jar = new CookieContainer();
        foreach (var c in Driver.Manage().Cookies.AllCookies)
        {
            jar.Add(site, new System.Net.Cookie(c.Name, c.Value, c.Path, site.Host));
        }

        return jar;
    }

    /// <summary>The repository root's <c>artifacts/screenshots</c> (the folder holding JitBroker.sln, found from the test binaries).</summary>
    public static string ScreenshotFolder
    {
        get
        {
            var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "JitBroker.sln")))
            {
                dir = dir.Parent;
            }

            return Path.Combine(dir?.FullName ?? TestContext.CurrentContext.TestDirectory, "artifacts", "screenshots");
        }
    }

    private static string Sanitize(string name) => string.Concat(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_'));

    public void Dispose()
    {
        try
        {
            Driver.Quit();
        }
        finally
        {
            Driver.Dispose();
            _service.Dispose();
        }
    }
}
