using System.Globalization;
using System.Net;
using System.Text;

namespace JitBroker.PerfHarness;

/// <summary>A hand-written SVG: RequestCredential p50/p99/p99.9 by concurrency, log scale, one line style per audit policy.</summary>
internal static class LatencyChart
{
    private const double Width = 760, Height = 440, Left = 70, Right = 200, Top = 40, Bottom = 70;

    public static string Svg(HarnessResults results)
    {
        var levels = results.Broker.SelectMany(b => b.Levels.Select(l => l.Concurrency)).Distinct().Order().ToList();
        var values = results.Broker.SelectMany(b => b.Levels.SelectMany(l => new[] { l.Latency.P50, l.Latency.P99, l.Latency.P999 }))
            .Where(v => v > 0 && double.IsFinite(v)).DefaultIfEmpty(1).ToList();
        var lo = Math.Pow(10, Math.Floor(Math.Log10(values.Min())));
        var hi = Math.Pow(10, Math.Ceiling(Math.Log10(Math.Max(values.Max(), 5.0001))));
        var plotW = Width - Left - Right;
        var plotH = Height - Top - Bottom;
        double X(int concurrency) => Left + (levels.Count == 1 ? plotW / 2 : plotW * levels.IndexOf(concurrency) / (levels.Count - 1));
        double Y(double ms) => Top + (plotH * (1 - ((Math.Log10(ms) - Math.Log10(lo)) / (Math.Log10(hi) - Math.Log10(lo)))));

        var svg = new StringBuilder();
        svg.AppendLine(Inv($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">"));
        svg.AppendLine(Inv($"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>"));
        svg.AppendLine(Inv($"<text x=\"{Left}\" y=\"22\" font-size=\"14\" font-weight=\"bold\">RequestCredential latency at the client vs concurrency ({Escape(results.Machine.Cores.ToString(CultureInfo.InvariantCulture))} cores, {Escape(results.Machine.Date)})</text>"));
        for (var decade = lo; decade <= hi * 1.0001; decade *= 10)
        {
            svg.AppendLine(Inv($"<line x1=\"{Left}\" x2=\"{Left + plotW}\" y1=\"{Y(decade):0.0}\" y2=\"{Y(decade):0.0}\" stroke=\"#ddd\"/>"));
            svg.AppendLine(Inv($"<text x=\"{Left - 8}\" y=\"{Y(decade) + 4:0.0}\" text-anchor=\"end\">{decade:0.###} ms</text>"));
        }

        svg.AppendLine(Inv($"<line x1=\"{Left}\" x2=\"{Left + plotW}\" y1=\"{Y(5):0.0}\" y2=\"{Y(5):0.0}\" stroke=\"#888\" stroke-dasharray=\"2,3\"/>"));
        svg.AppendLine(Inv($"<text x=\"{Left + plotW - 4}\" y=\"{Y(5) - 4:0.0}\" text-anchor=\"end\" fill=\"#666\">target: p99 ≤ 5 ms at concurrency 32</text>"));
        foreach (var c in levels)
        {
            svg.AppendLine(Inv($"<line x1=\"{X(c):0.0}\" x2=\"{X(c):0.0}\" y1=\"{Top}\" y2=\"{Top + plotH}\" stroke=\"#eee\"/>"));
            svg.AppendLine(Inv($"<text x=\"{X(c):0.0}\" y=\"{Top + plotH + 18}\" text-anchor=\"middle\">{c}</text>"));
            var rates = string.Join(" / ", results.Broker.Select(b => b.Levels.FirstOrDefault(l => l.Concurrency == c) is { } l ? (l.Throughput / 1000).ToString("0.0", CultureInfo.InvariantCulture) + "k" : "–"));
            svg.AppendLine(Inv($"<text x=\"{X(c):0.0}\" y=\"{Top + plotH + 34}\" text-anchor=\"middle\" fill=\"#555\" font-size=\"10\">{rates} req/s</text>"));
        }

        svg.AppendLine(Inv($"<text x=\"{Left + (plotW / 2)}\" y=\"{Height - 12}\" text-anchor=\"middle\">concurrent callers (req/s: {Escape(string.Join(" / ", results.Broker.Select(b => b.Audit)))})</text>"));
        var colours = new[] { ("p50", "#1f77b4"), ("p99", "#ff7f0e"), ("p99.9", "#d62728") };
        var dashes = new[] { "", "6,4", "2,2" };
        var legendY = Top + 10.0;
        for (var b = 0; b < results.Broker.Count; b++)
        {
            var run = results.Broker[b];
            foreach (var (name, colour) in colours)
            {
                var points = run.Levels.Select(l => (l.Concurrency, Value: name switch { "p50" => l.Latency.P50, "p99" => l.Latency.P99, _ => l.Latency.P999 }))
                    .Where(p => p.Value > 0 && double.IsFinite(p.Value))
                    .Select(p => Inv($"{X(p.Concurrency):0.0},{Y(p.Value):0.0}"));
                var dash = dashes[b % dashes.Length].Length > 0 ? $" stroke-dasharray=\"{dashes[b % dashes.Length]}\"" : "";
                svg.AppendLine(Inv($"<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash} points=\"{string.Join(' ', points)}\"/>"));
                svg.AppendLine(Inv($"<line x1=\"{Width - Right + 15}\" x2=\"{Width - Right + 45}\" y1=\"{legendY}\" y2=\"{legendY}\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>"));
                svg.AppendLine(Inv($"<text x=\"{Width - Right + 52}\" y=\"{legendY + 4}\">{name}, fsync {Escape(run.Audit)}</text>"));
                legendY += 18;
            }
        }

        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static string Escape(string text) => WebUtility.HtmlEncode(text);

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
