using System.Text;

namespace JitBroker.Wire.Tests;

/// <summary>The small protocol pieces, checked directly against PROTOCOL-HTTP2.md's grammar.</summary>
public sealed class ProtocolPrimitiveTests
{
    [TestCase("plain ASCII stays as is", "plain ASCII stays as is")]
    [TestCase("100%", "100%25")]
    [TestCase("é", "%C3%A9")]
    [TestCase("a\r\nb\t", "a%0D%0Ab%09")]
    [TestCase("~\u007f", "~%7F")]
    [TestCase("🔒", "%F0%9F%94%92")]
    public void Percent_encoding_escapes_exactly_the_bytes_outside_0x20_0x7E_and_percent(string raw, string encoded)
    {
        Assert.That(PercentEncoding.Encode(raw), Is.EqualTo(encoded));
        Assert.That(PercentEncoding.Decode(encoded), Is.EqualTo(raw));
    }

    [TestCase("%", "%")]
    [TestCase("%4", "%4")]
    [TestCase("%G1x", "%G1x")]
    [TestCase("ok%20%zz", "ok %zz")]
    [TestCase("%c3%a9", "é")]
    [TestCase("%FF", "\uFFFD")]
    public void Percent_decoding_never_fails_on_broken_input(string encoded, string decoded) =>
        Assert.That(PercentEncoding.Decode(encoded), Is.EqualTo(decoded));

    [Test]
    public void Percent_encoded_output_is_always_valid_header_text()
    {
        var all = new StringBuilder();
        for (var c = 0; c < 0x3000; c += 7)
        {
            all.Append((char)c);
        }

        var encoded = PercentEncoding.Encode(all.ToString());
        Assert.That(encoded.All(c => c is >= ' ' and <= '~'), Is.True);
    }

    [TestCase("1H", 36_000_000_000L)]
    [TestCase("1M", 600_000_000L)]
    [TestCase("1S", 10_000_000L)]
    [TestCase("1m", 10_000L)]
    [TestCase("1u", 10L)]
    [TestCase("1n", 1L)]
    [TestCase("00000100m", 1_000_000L)]
    [TestCase("99999999H", 99_999_999L * 36_000_000_000L)]
    public void Grpc_timeout_parses_every_unit(string header, long ticks)
    {
        Assert.That(GrpcTimeout.TryParse(header, out var timeout), Is.True);
        Assert.That(timeout.Ticks, Is.EqualTo(ticks));
    }

    [TestCase(null)]
    [TestCase("")]
    [TestCase("m")]
    [TestCase("5")]
    [TestCase("123456789m")]
    [TestCase("5s")]
    [TestCase("5h")]
    [TestCase("+5S")]
    [TestCase("٣S")]
    public void Grpc_timeout_rejects_anything_off_grammar(string? header) =>
        Assert.That(GrpcTimeout.TryParse(header, out _), Is.False);

    [TestCase(1L, "1u")]
    [TestCase(15_000_000L, "1500000u")]
    [TestCase(1_000_000_000_000L, "100000S")]
    [TestCase(1_000_000_000_001L, "100001S")]
    public void Grpc_timeout_encoding_rounds_up_and_fits_eight_digits(long ticks, string expected)
    {
        var encoded = GrpcTimeout.Encode(TimeSpan.FromTicks(ticks));
        Assert.That(encoded, Is.EqualTo(expected));
        Assert.That(encoded.Length - 1, Is.LessThanOrEqualTo(8));
        Assert.That(GrpcTimeout.TryParse(encoded, out var back), Is.True);
        Assert.That(back.Ticks, Is.GreaterThanOrEqualTo(ticks), "never shortens the caller's deadline");
    }

    [Test]
    public void Grpc_timeout_encoding_of_a_huge_span_is_capped()
    {
        var encoded = GrpcTimeout.Encode(TimeSpan.MaxValue);
        Assert.That(encoded, Is.EqualTo("99999999H"));
    }

    [Test]
    public void Metadata_keys_are_lowercased_and_looked_up_case_insensitively_last_value_wins()
    {
        var metadata = new Metadata { { "X-Trace", "a" }, { "x-trace", "b" } };

        Assert.That(metadata.Get("X-TRACE"), Is.EqualTo("b"));
        Assert.That(metadata.GetAll("x-trace"), Is.EqualTo(new[] { "a", "b" }));
        Assert.That(metadata.Select(e => e.Key), Is.All.EqualTo("x-trace"));
        Assert.That(metadata.Get("absent"), Is.Null);
    }

    [TestCase("")]
    [TestCase("has space")]
    [TestCase("colon:")]
    [TestCase(":path")]
    [TestCase("naïve")]
    [TestCase("a/b")]
    public void Metadata_rejects_keys_outside_the_header_name_charset(string key) =>
        Assert.Throws<ArgumentException>(() => new Metadata().Add(key, "v"));

    [TestCase("grpc-status")]
    [TestCase("grpc-message")]
    [TestCase("Content-Type")]
    [TestCase("te")]
    [TestCase("connection")]
    public void Metadata_rejects_reserved_keys(string key) =>
        Assert.Throws<ArgumentException>(() => new Metadata().Add(key, "v"));

    [TestCase("line\r\nbreak")]
    [TestCase("tab\t")]
    [TestCase("é")]
    public void Metadata_rejects_values_that_are_not_printable_ASCII(string value) =>
        Assert.Throws<ArgumentException>(() => new Metadata().Add("x-key", value));

    [Test]
    public void Registry_refuses_duplicates_and_bad_names()
    {
        var registry = new GrpcServiceRegistry();
        var health = new GrpcHealthService();
        health.Register(registry);

        Assert.Throws<InvalidOperationException>(() => health.Register(registry));
        Assert.Throws<ArgumentException>(() => registry.AddUnary<Grpc.Health.V1.HealthCheckRequest, Grpc.Health.V1.HealthCheckResponse>(
            "a/b", "M", Grpc.Health.V1.HealthCheckRequest.Parser, (_, _) => Task.FromResult(new Grpc.Health.V1.HealthCheckResponse())));
        Assert.That(registry.TryGetMethod("/grpc.health.v1.Health/Check", out _), Is.True);
    }

    [Test]
    public void RpcException_keeps_status_detail_and_trailers()
    {
        var trailers = new Metadata { { "jitbroker-reason", "x.y" } };
        var ex = new RpcException(StatusCode.PermissionDenied, "no", trailers);

        Assert.That(ex.StatusCode, Is.EqualTo(StatusCode.PermissionDenied));
        Assert.That(ex.Detail, Is.EqualTo("no"));
        Assert.That(ex.Trailers, Is.SameAs(trailers));
        Assert.That(new RpcException(StatusCode.Internal, "d").Trailers, Is.Empty);
    }
}
