using System.Globalization;
using System.Net;
using System.Text;

namespace JitBroker.PerfHarness;

/// <summary>One line on a chart: a legend entry, a colour, an SVG dash pattern ("" for solid) and its points.</summary>
internal sealed record ChartSeries(string Name, string Colour, string Dash, IReadOnlyList<(double X, double Y)> Points);

/// <summary>A labelled tick on the x axis, with an optional second, smaller line under it.</summary>
internal sealed record ChartTick(double X, string Label, string? Note = null);

/// <summary>A dashed horizontal reference line (a target).</summary>
internal sealed record ChartTarget(double Y, string Label);

/// <summary>
/// The harness's one hand-written SVG line chart (no charting dependency): linear x, y in milliseconds on a log scale
/// (decades) or a linear one, a legend on the right. Points that a log scale cannot show (≤ 0) are left out.
/// </summary>
internal sealed record SvgChart(string Title, string XLabel, IReadOnlyList<ChartTick> XTicks, bool LogY, IReadOnlyList<ChartSeries> Series)
{
    private const double Width = 860, Height = 460, Left = 70, Right = 300, Top = 40, Bottom = 70;
    private const int MarkedPoints = 20;

    public IReadOnlyList<ChartTarget> Targets { get; init; } = [];

    public string Render()
    {
        var ys = Series.SelectMany(s => s.Points.Select(p => p.Y)).Concat(Targets.Select(t => t.Y))
            .Where(v => double.IsFinite(v) && (!LogY || v > 0)).DefaultIfEmpty(1).ToList();
        var xs = Series.SelectMany(s => s.Points.Select(p => p.X)).Concat(XTicks.Select(t => t.X)).Where(double.IsFinite).DefaultIfEmpty(0).ToList();
        var (xLo, xHi) = (xs.Min(), xs.Max() > xs.Min() ? xs.Max() : xs.Min() + 1);
        var yTicks = LogY ? Decades(ys.Min(), ys.Max()) : Linear(ys.Max());
        var (yLo, yHi) = (yTicks[0], yTicks[^1]);
        var plotW = Width - Left - Right;
        var plotH = Height - Top - Bottom;
        double X(double x) => Left + (plotW * (x - xLo) / (xHi - xLo));
        double Y(double y) => Top + (plotH * (1 - (LogY ? (Math.Log10(y) - Math.Log10(yLo)) / (Math.Log10(yHi) - Math.Log10(yLo)) : (y - yLo) / (yHi - yLo))));

        var svg = new StringBuilder();
        svg.AppendLine(Inv($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">"));
        svg.AppendLine(Inv($"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>"));
        svg.AppendLine(Inv($"<text x=\"{Left}\" y=\"22\" font-size=\"14\" font-weight=\"bold\">{Escape(Title)}</text>"));
        foreach (var y in yTicks)
        {
            svg.AppendLine(Inv($"<line x1=\"{Left}\" x2=\"{Left + plotW}\" y1=\"{Y(y):0.0}\" y2=\"{Y(y):0.0}\" stroke=\"#ddd\"/>"));
            svg.AppendLine(Inv($"<text x=\"{Left - 8}\" y=\"{Y(y) + 4:0.0}\" text-anchor=\"end\">{y:0.###} ms</text>"));
        }

        foreach (var t in XTicks)
        {
            svg.AppendLine(Inv($"<line x1=\"{X(t.X):0.0}\" x2=\"{X(t.X):0.0}\" y1=\"{Top}\" y2=\"{Top + plotH}\" stroke=\"#eee\"/>"));
            svg.AppendLine(Inv($"<text x=\"{X(t.X):0.0}\" y=\"{Top + plotH + 18}\" text-anchor=\"middle\">{Escape(t.Label)}</text>"));
            if (t.Note is not null)
            {
                svg.AppendLine(Inv($"<text x=\"{X(t.X):0.0}\" y=\"{Top + plotH + 34}\" text-anchor=\"middle\" fill=\"#555\" font-size=\"10\">{Escape(t.Note)}</text>"));
            }
        }

        svg.AppendLine(Inv($"<line x1=\"{Left}\" x2=\"{Left}\" y1=\"{Top}\" y2=\"{Top + plotH}\" stroke=\"#888\"/>"));
        svg.AppendLine(Inv($"<line x1=\"{Left}\" x2=\"{Left + plotW}\" y1=\"{Top + plotH}\" y2=\"{Top + plotH}\" stroke=\"#888\"/>"));
        // Centred under the plot unless wider than it (~6.5 px a character at 12 px): then from the plot's left edge, so a
        // long caption runs into the legend's column instead of off the image's left side.
        var captionFits = XLabel.Length * 6.5 <= plotW;
        svg.AppendLine(Inv($"<text x=\"{(captionFits ? Left + (plotW / 2) : Left)}\" y=\"{Height - 12}\" text-anchor=\"{(captionFits ? "middle" : "start")}\">{Escape(XLabel)}</text>"));
        foreach (var target in Targets)
        {
            svg.AppendLine(Inv($"<line x1=\"{Left}\" x2=\"{Left + plotW}\" y1=\"{Y(target.Y):0.0}\" y2=\"{Y(target.Y):0.0}\" stroke=\"#888\" stroke-dasharray=\"2,3\"/>"));
            svg.AppendLine(Inv($"<text x=\"{Left + plotW - 4}\" y=\"{Y(target.Y) - 4:0.0}\" text-anchor=\"end\" fill=\"#666\">{Escape(target.Label)}</text>"));
        }

        var legendY = Top + 10.0;
        foreach (var s in Series)
        {
            var dash = s.Dash.Length > 0 ? $" stroke-dasharray=\"{s.Dash}\"" : "";
            var shown = s.Points.Where(p => double.IsFinite(p.Y) && (!LogY || p.Y > 0)).ToList();
            svg.AppendLine(Inv($"<polyline fill=\"none\" stroke=\"{s.Colour}\" stroke-width=\"2\"{dash} points=\"{string.Join(' ', shown.Select(p => Inv($"{X(p.X):0.0},{Y(p.Y):0.0}")))}\"/>"));
            if (shown.Count <= MarkedPoints)
            {
                // Few measured points (rates, concurrencies): mark each, so a line is not read as a continuous measurement.
                foreach (var p in shown)
                {
                    svg.AppendLine(Inv($"<circle cx=\"{X(p.X):0.0}\" cy=\"{Y(p.Y):0.0}\" r=\"3\" fill=\"{s.Colour}\"/>"));
                }
            }

            svg.AppendLine(Inv($"<line x1=\"{Width - Right + 15}\" x2=\"{Width - Right + 45}\" y1=\"{legendY}\" y2=\"{legendY}\" stroke=\"{s.Colour}\" stroke-width=\"2\"{dash}/>"));
            svg.AppendLine(Inv($"<text x=\"{Width - Right + 52}\" y=\"{legendY + 4}\">{Escape(s.Name)}</text>"));
            legendY += 18;
        }

        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static List<double> Decades(double min, double max)
    {
        var ticks = new List<double>();
        for (var d = Math.Pow(10, Math.Floor(Math.Log10(min))); d <= Math.Pow(10, Math.Ceiling(Math.Log10(max))) * 1.0001; d *= 10)
        {
            ticks.Add(d);
        }

        return ticks.Count > 1 ? ticks : [ticks[0], ticks[0] * 10];
    }

    /// <summary>0 to a round maximum in about five steps of 1, 2 or 5 × 10ⁿ.</summary>
    public static List<double> Linear(double max)
    {
        var raw = Math.Max(max, 1e-9) / 5;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = new[] { 1, 2, 5, 10 }.Select(m => m * magnitude).First(s => s >= raw);
        return [.. Enumerable.Range(0, (int)Math.Ceiling(max / step) + 1).Select(i => i * step)];
    }

    private static string Escape(string text) => WebUtility.HtmlEncode(text);

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
