using System.Globalization;
using System.Text;
using System.Xml;
using JitBroker.Core.Series;

namespace JitBroker.WebConsole.Charts;

/// <summary>One bar of a bar chart: a label (a reason code, an agent id — any text, escaped) and its value.</summary>
public sealed record ChartBar(string Label, double Value);

/// <summary>
/// Server-side charts as inline SVG, no script: written with an <see cref="XmlWriter"/>, so every label is escaped and the
/// markup is well-formed XML. Colours and fonts are presentation attributes (<c>fill</c>, <c>stroke</c>, <c>font-size</c>),
/// never <c>style=</c>, so the console's CSP (<c>style-src 'self'</c>, no inline style) has nothing to refuse. Each chart is
/// an <c>img</c> to assistive technology with a title and a description that states the values a reader needs; axes carry
/// labels and their scale.
/// </summary>
public static class SvgChart
{
    private const int Width = 560;
    private const int Height = 200;
    private const int Left = 76;
    private const int Right = 16;
    private const int Top = 28;
    private const int Bottom = 36;
    private const string Ink = "#1b1f24";
    private const string Muted = "#5b6570";
    private const string Grid = "#d8dee4";
    private const string Accent = "#0b5cad";
    private const string Font = "system-ui, sans-serif";
    private static readonly int[] NiceSteps = [1, 2, 5, 10];
    private static readonly double[] GridLines = [0, 0.5, 1];

    /// <summary>Shown on a line chart with no value yet, so an empty chart does not read as "zero" or as broken.</summary>
    internal const string NoDataYet = "no data yet — first sample within 10 s";

    /// <summary>
    /// A line (with its area filled) over time. Null values are gaps: the line breaks there instead of pretending a zero.
    /// <paramref name="unit"/> follows every number in the description and on the value axis ("/min", " s").
    /// </summary>
    public static string Line(string id, string title, string valueAxis, IReadOnlyList<SeriesPoint> points, string unit)
    {
        var known = points.Where(p => p.Value is not null).Select(p => p.Value!.Value).ToList();
        var max = NiceMax(known.Count == 0 ? 0 : known.Max());
        var description = known.Count == 0
            ? "No data yet."
            : $"Latest {Number(known[^1])}{unit}, highest {Number(known.Max())}{unit}, lowest {Number(known.Min())}{unit} over {points.Count} samples"
              + (points.Count > 1 ? $" from {Clock(points[0].At)} to {Clock(points[^1].At)} UTC." : ".");
        return Write(id, title, description, w =>
        {
            ValueAxis(w, valueAxis, max, unit);
            TimeAxis(w, points);
            if (known.Count == 0)
            {
                Text(w, Left + (PlotWidth / 2), Top + (PlotHeight * 0.75) + 4, NoDataYet, "middle", Muted, "12");
            }

            if (points.Count == 0)
            {
                return;
            }

            var span = Math.Max((points[^1].At - points[0].At).TotalSeconds, 1);
            double X(SeriesPoint p) => Left + (PlotWidth * (p.At - points[0].At).TotalSeconds / span);
            double Y(double v) => Top + PlotHeight - (PlotHeight * v / max);
            foreach (var run in Runs(points))
            {
                var line = string.Join(" ", run.Select(p => $"{Number(X(p))},{Number(Y(p.Value!.Value))}"));
                var baseline = Number(Top + PlotHeight);
                Element(w, "polygon", ("points", $"{Number(X(run[0]))},{baseline} {line} {Number(X(run[^1]))},{baseline}"), ("fill", Accent), ("fill-opacity", "0.15"), ("stroke", "none"));
                Element(w, run.Count == 1 ? "circle" : "polyline", run.Count == 1
                    ? [("cx", Number(X(run[0]))), ("cy", Number(Y(run[0].Value!.Value))), ("r", "2.5"), ("fill", Accent)]
                    : [("points", line), ("fill", "none"), ("stroke", Accent), ("stroke-width", "2")]);
            }

            if (known.Count > 0)
            {
                Text(w, Width - Right, Top - 10, $"now {Number(known[^1])}{unit}", "end", Ink, "12");
            }
        });
    }

    /// <summary>Horizontal bars, largest first, each with its label and value written beside it.</summary>
    public static string Bars(string id, string title, string valueAxis, IReadOnlyList<ChartBar> bars)
    {
        var ordered = bars.OrderByDescending(b => b.Value).ThenBy(b => b.Label, StringComparer.Ordinal).ToList();
        var description = ordered.Count == 0
            ? "None."
            : string.Join("; ", ordered.Select(b => $"{b.Label}: {Number(b.Value)}")) + ".";
        const int row = 22;
        var height = Math.Max(Height, Top + Bottom + (row * ordered.Count));
        var max = NiceMax(ordered.Count == 0 ? 0 : ordered[0].Value);
        const int labelWidth = 220;
        var plot = Width - labelWidth - Right - 40;
        return Write(id, title, description, w =>
        {
            Text(w, labelWidth + (plot / 2.0), height - 8, valueAxis, "middle", Muted, "11");
            if (ordered.Count == 0)
            {
                Text(w, Width / 2.0, Top + 40, "nothing in this window", "middle", Muted, "12");
                return;
            }

            for (var i = 0; i < ordered.Count; i++)
            {
                var y = Top + (i * row);
                var length = plot * ordered[i].Value / max;
                Text(w, labelWidth - 6, y + 14, ordered[i].Label, "end", Ink, "12", maxLength: 34);
                Element(w, "rect", ("x", Number(labelWidth)), ("y", Number(y + 3)), ("width", Number(Math.Max(length, 1))), ("height", "15"), ("fill", Accent));
                Text(w, labelWidth + length + 6, y + 14, Number(ordered[i].Value), "start", Ink, "12");
            }
        }, height);
    }

    private static double PlotWidth => Width - Left - Right;

    private static double PlotHeight => Height - Top - Bottom;

    private static string Write(string id, string title, string description, Action<XmlWriter> body, int height = Height)
    {
        var text = new StringBuilder();
        using (var w = XmlWriter.Create(text, new XmlWriterSettings { OmitXmlDeclaration = true, ConformanceLevel = ConformanceLevel.Fragment }))
        {
            w.WriteStartElement("svg", "http://www.w3.org/2000/svg");
            w.WriteAttributeString("id", id + "-svg");
            w.WriteAttributeString("viewBox", $"0 0 {Width} {height}");
            w.WriteAttributeString("role", "img");
            w.WriteAttributeString("aria-labelledby", $"{id}-title {id}-desc");
            w.WriteAttributeString("font-family", Font);
            w.WriteStartElement("title");
            w.WriteAttributeString("id", id + "-title");
            w.WriteString(title);
            w.WriteEndElement();
            w.WriteStartElement("desc");
            w.WriteAttributeString("id", id + "-desc");
            w.WriteString(description);
            w.WriteEndElement();
            Text(w, 0, 16, title, "start", Ink, "13");
            body(w);
            w.WriteEndElement();
        }

        return text.ToString();
    }

    private static void ValueAxis(XmlWriter w, string label, double max, string unit)
    {
        foreach (var fraction in GridLines)
        {
            var y = Top + PlotHeight - (PlotHeight * fraction);
            Element(w, "line", ("x1", Number(Left)), ("x2", Number(Width - Right)), ("y1", Number(y)), ("y2", Number(y)), ("stroke", Grid));
            Text(w, Left - 6, y + 4, Number(max * fraction) + unit.Trim(), "end", Muted, "11");
        }

        w.WriteStartElement("text");
        w.WriteAttributeString("transform", $"translate(14 {Number(Top + (PlotHeight / 2))}) rotate(-90)");
        w.WriteAttributeString("text-anchor", "middle");
        w.WriteAttributeString("fill", Muted);
        w.WriteAttributeString("font-size", "11");
        w.WriteString(label);
        w.WriteEndElement();
    }

    private static void TimeAxis(XmlWriter w, IReadOnlyList<SeriesPoint> points)
    {
        var y = Height - Bottom + 14;
        if (points.Count > 0)
        {
            Text(w, Left, y, Clock(points[0].At), "start", Muted, "11");
            Text(w, Width - Right, y, Clock(points[^1].At), "end", Muted, "11");
        }

        Text(w, Left + (PlotWidth / 2), Height - 6, "time (UTC)", "middle", Muted, "11");
    }

    /// <summary>Consecutive points with values: the pieces of a line broken by gaps.</summary>
    private static IEnumerable<List<SeriesPoint>> Runs(IReadOnlyList<SeriesPoint> points)
    {
        var run = new List<SeriesPoint>();
        foreach (var p in points)
        {
            if (p.Value is null)
            {
                if (run.Count > 0)
                {
                    yield return run;
                    run = [];
                }

                continue;
            }

            run.Add(p);
        }

        if (run.Count > 0)
        {
            yield return run;
        }
    }

    /// <summary>A text element; a value longer than <paramref name="maxLength"/> is cut, its whole text kept in a tooltip title.</summary>
    private static void Text(XmlWriter w, double x, double y, string value, string anchor, string fill, string size, int maxLength = int.MaxValue)
    {
        w.WriteStartElement("text");
        w.WriteAttributeString("x", Number(x));
        w.WriteAttributeString("y", Number(y));
        w.WriteAttributeString("text-anchor", anchor);
        w.WriteAttributeString("fill", fill);
        w.WriteAttributeString("font-size", size);
        if (value.Length > maxLength)
        {
            w.WriteElementString("title", value);
            value = value[..(maxLength - 1)] + "…";
        }

        w.WriteString(value);
        w.WriteEndElement();
    }

    private static void Element(XmlWriter w, string name, params (string Name, string Value)[] attributes)
    {
        w.WriteStartElement(name);
        foreach (var (n, v) in attributes)
        {
            w.WriteAttributeString(n, v);
        }

        w.WriteEndElement();
    }

    /// <summary>The axis top: 1, 2 or 5 times a power of ten at or above the largest value (at least 1).</summary>
    internal static double NiceMax(double value)
    {
        if (value <= 1)
        {
            return 1;
        }

        var power = Math.Pow(10, Math.Floor(Math.Log10(value)));
        return NiceSteps.Select(m => m * power).First(candidate => candidate >= value);
    }

    private static string Number(double value) =>
        Math.Round(value, 1).ToString(Math.Abs(value - Math.Round(value)) < 0.05 ? "0" : "0.0", CultureInfo.InvariantCulture);

    private static string Clock(DateTimeOffset at) => at.UtcDateTime.ToString("HH:mm", CultureInfo.InvariantCulture);
}
