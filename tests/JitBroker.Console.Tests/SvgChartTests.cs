using System.Xml.Linq;
using JitBroker.Core.Series;
using JitBroker.WebConsole.Charts;
using NUnit.Framework;

namespace JitBroker.Console.Tests;

/// <summary>Issue 21: the overview's charts are well-formed, accessible SVG with no style attribute and every label escaped.</summary>
public sealed class SvgChartTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";
    private static readonly DateTimeOffset T0 = new(2026, 12, 3, 10, 0, 0, TimeSpan.Zero);

    private static SeriesPoint At(int seconds, double? value) => new(T0.AddSeconds(seconds), value);

    [Test]
    public void A_line_chart_is_an_img_with_title_description_axes_and_its_values()
    {
        var svg = XElement.Parse(SvgChart.Line("chart-x", "Credentials issued", "per minute", [At(0, 2), At(10, 12), At(20, 6)], "/min"));

        Assert.That(svg.Name, Is.EqualTo(Svg + "svg"));
        Assert.That(svg.Attribute("role")!.Value, Is.EqualTo("img"));
        Assert.That(svg.Attribute("aria-labelledby")!.Value, Is.EqualTo("chart-x-title chart-x-desc"));
        Assert.That(svg.Element(Svg + "title")!.Value, Is.EqualTo("Credentials issued"));
        Assert.That(svg.Element(Svg + "desc")!.Value, Is.EqualTo("Latest 6/min, highest 12/min, lowest 2/min over 3 samples from 10:00 to 10:00 UTC."));
        var texts = svg.Descendants(Svg + "text").Select(t => t.Value).ToList();
        Assert.That(texts, Does.Contain("per minute").And.Contain("time (UTC)").And.Contain("20/min").And.Contain("now 6/min"), "axis labels, the scale's top (12 rounds up to 20) and the latest value");
        Assert.That(svg.Descendants(Svg + "polyline").Single().Attribute("points")!.Value.Split(' '), Has.Length.EqualTo(3));
    }

    [Test]
    public void A_gap_breaks_the_line_instead_of_drawing_a_zero()
    {
        var svg = XElement.Parse(SvgChart.Line("lag", "Lag", "seconds", [At(0, 1), At(10, 2), At(20, null), At(30, 3), At(40, 4)], " s"));

        Assert.That(svg.Descendants(Svg + "polyline").Count(), Is.EqualTo(2));
        Assert.That(svg.Element(Svg + "desc")!.Value, Does.StartWith("Latest 4 s, highest 4 s, lowest 1 s over 5 samples"));
    }

    [Test]
    public void A_chart_without_data_says_so()
    {
        var svg = XElement.Parse(SvgChart.Line("empty", "Approvals waiting", "approvals", [], ""));

        Assert.That(svg.Element(Svg + "desc")!.Value, Is.EqualTo("No data yet."));
        Assert.That(svg.Descendants(Svg + "polyline"), Is.Empty);
        Assert.That(svg.Descendants(Svg + "text").Select(t => t.Value), Does.Contain("no data yet — first sample within 10 s"), "written on the chart, not only for screen readers");
    }

    [Test]
    public void A_chart_scales_to_its_card_through_its_view_box_alone()
    {
        var svg = XElement.Parse(SvgChart.Line("x", "Issued", "per minute", [At(0, 1)], "/min"));

        Assert.That(svg.Attribute("viewBox")!.Value, Is.EqualTo("0 0 560 200"));
        Assert.That((svg.Attribute("width"), svg.Attribute("height")), Is.EqualTo(((XAttribute?)null, (XAttribute?)null)), "a fixed size would keep it at 560 px");
        Assert.That(svg.Descendants(Svg + "text").Select(t => t.Value), Does.Not.Contain("no data yet — first sample within 10 s"));
    }

    [Test]
    public void Bars_are_largest_first_with_each_label_and_value_written()
    {
        var svg = XElement.Parse(SvgChart.Bars("denials", "Refused", "requests", [new ChartBar("policy.denied", 3), new ChartBar("agent.blocked", 7)]));

        Assert.That(svg.Element(Svg + "desc")!.Value, Is.EqualTo("agent.blocked: 7; policy.denied: 3."));
        Assert.That(svg.Descendants(Svg + "text").Select(t => t.Value), Is.SupersetOf(new[] { "agent.blocked", "7", "policy.denied", "3" }));
        var widths = svg.Descendants(Svg + "rect").Select(r => double.Parse(r.Attribute("width")!.Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.That(widths[0], Is.GreaterThan(widths[1]));
    }

    [Test]
    public void Hostile_labels_are_escaped_and_stay_text()
    {
        const string hostile = "reason<script>alert(1)</script>&\"x\"";
        var markup = SvgChart.Bars("c", "Title <b>&\"", "axis", [new ChartBar(hostile, 1)]);

        Assert.That(markup, Does.Not.Contain("<script").And.Not.Contain("<b>"));
        Assert.That(markup, Does.Contain("&lt;script&gt;").And.Contain("&amp;"));
        var svg = XElement.Parse(markup);
        Assert.That(svg.Descendants(Svg + "text").Select(t => t.Element(Svg + "title")?.Value), Does.Contain(hostile), "the label reads back as the text it was");
        Assert.That(svg.Element(Svg + "desc")!.Value, Is.EqualTo(hostile + ": 1."));
        Assert.That(svg.Element(Svg + "title")!.Value, Is.EqualTo("Title <b>&\""));
        Assert.That(svg.Descendants().Where(e => e.Name.LocalName is "script" or "style" or "b"), Is.Empty);
    }

    [Test]
    public void No_element_carries_a_style_or_event_attribute()
    {
        var markup = SvgChart.Line("a", "A", "x", [At(0, 1), At(10, 5)], "") + SvgChart.Bars("b", "B", "y", [new ChartBar("r", 2)]);
        var attributes = XElement.Parse("<root>" + markup + "</root>").Descendants().SelectMany(e => e.Attributes()).Select(a => a.Name.LocalName).ToList();

        Assert.That(attributes, Does.Not.Contain("style"));
        Assert.That(attributes.Where(a => a.StartsWith("on", StringComparison.Ordinal)), Is.Empty);
        Assert.That(attributes, Does.Contain("fill").And.Contain("stroke"), "colours as presentation attributes");
    }

    [TestCase(0, 1)]
    [TestCase(0.4, 1)]
    [TestCase(3, 5)]
    [TestCase(12, 20)]
    [TestCase(50, 50)]
    [TestCase(51, 100)]
    public void The_value_axis_tops_out_at_a_round_number(double max, double top) => Assert.That(SvgChart.NiceMax(max), Is.EqualTo(top));
}
