using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace JitBroker.Audit;

/// <summary>
/// One stored line of the audit log: an event (or a checkpoint) plus <c>seq</c>, <c>time</c>, <c>prev_hash</c>
/// and <c>hash</c>. <c>hash</c> is the lowercase hex SHA-256 of the RFC 8785 (JCS) form of every other member
/// of the line, so it covers every member present, known or not. Immutable.
/// </summary>
public sealed class AuditRecord
{
    /// <summary>The <c>prev_hash</c> of the record with seq 1: 64 zeros.</summary>
    public const string GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";

    // Exactly six fraction digits: one spelling per instant, and the form Python's strptime("%f") reads back.
    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";

    private static readonly JsonDocumentOptions StrictJson = new() { AllowDuplicateProperties = false, MaxDepth = 16 };

    // Parsed from the line on first use: a record the broker writes is never read back as JSON on the hot path.
    private JsonObject? _json;

    private string? _line;

    // The line's bytes as built (a record the log wrote: its own array, or a slice of the writer's batch buffer, see
    // Create), else empty and encoded from _line on first use into _lineBytes (a reference: safe to fill in lazily).
    private readonly ReadOnlyMemory<byte> _lineBuilt;
    private byte[]? _lineBytes;

    private AuditRecord(JsonObject? json, string? line, ReadOnlyMemory<byte> lineUtf8, long seq, string time, string type, string prevHash, string hash, string computedHash)
    {
        _json = json;
        _line = line;
        _lineBuilt = lineUtf8;
        Seq = seq;
        Time = time;
        Type = type;
        PrevHash = prevHash;
        Hash = hash;
        ComputedHash = computedHash;
    }

    public long Seq { get; }

    /// <summary>RFC 3339 UTC with microseconds, exactly as stored (for example <c>2026-11-21T12:00:00.000000Z</c>).</summary>
    public string Time { get; }

    public string Type { get; }

    public string PrevHash { get; }

    /// <summary>The hash stored in the line.</summary>
    public string Hash { get; }

    /// <summary>The hash recomputed from the line's other members; differs from <see cref="Hash"/> when the line was edited.</summary>
    public string ComputedHash { get; }

    /// <summary>The line as stored, without its newline.</summary>
    public string Line => _line ??= Encoding.UTF8.GetString(LineUtf8.Span);

    /// <summary>
    /// The line's UTF-8 bytes, as written to the file and the stream, without its newline. Not to be modified. For a
    /// record built into the writer's batch buffer they are valid only until its sink's <see cref="IAuditSink.WriteAsync"/>
    /// returns (see <see cref="IAuditSink"/>); <see cref="Detached"/> copies them.
    /// </summary>
    internal ReadOnlyMemory<byte> LineUtf8 => !_lineBuilt.IsEmpty ? _lineBuilt : _lineBytes ??= Encoding.UTF8.GetBytes(_line!);

    /// <summary>This record with its line in an array of its own: what a sink that keeps records after a write keeps.</summary>
    public AuditRecord Detached() => _lineBuilt.IsEmpty
        ? this
        : new AuditRecord(null, null, _lineBuilt.ToArray(), Seq, Time, Type, PrevHash, Hash, ComputedHash);

    public bool IsCheckpoint => Type == AuditRecordTypes.Checkpoint;

    // A parsed JsonObject fills in its members lazily, which is not safe for readers on several threads: every
    // object and array is filled in here, before the tree is shared (as hashing does for a record read by Parse).
    private JsonObject Json
    {
        get
        {
            if (_json is { } json)
            {
                return json;
            }

            var parsed = (JsonObject)JsonNode.Parse(LineUtf8.Span, documentOptions: StrictJson)!;
            FillIn(parsed);
            return Interlocked.CompareExchange(ref _json, parsed, null) ?? parsed;

            static void FillIn(JsonNode? node)
            {
                switch (node)
                {
                    case JsonObject o:
                        foreach (var member in o)
                        {
                            FillIn(member.Value);
                        }

                        break;
                    case JsonArray a:
                        foreach (var item in a)
                        {
                            FillIn(item);
                        }

                        break;
                }
            }
        }
    }

    /// <summary>A string member, or null when absent or not a string.</summary>
    public string? GetString(string name) =>
        Json[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    /// <summary>An integer member, or null when absent or not an integer.</summary>
    public long? GetInt64(string name) =>
        Json[name] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var n) ? n : null;

    /// <summary>A string-array member (empty when absent).</summary>
    public IReadOnlyList<string> GetStrings(string name) =>
        Json[name] is JsonArray a ? [.. a.OfType<JsonValue>().Where(v => v.GetValueKind() == JsonValueKind.String).Select(v => v.GetValue<string>())] : [];

    /// <summary>A copy of the whole record as JSON.</summary>
    public JsonObject ToJson() => (JsonObject)Json.DeepClone();

    /// <summary>RFC 3339 UTC, microsecond precision, the one form <c>time</c> is written in.</summary>
    public static string FormatTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    /// <summary>
    /// Builds and hashes the record of an event: its members scrubbed (<see cref="ScrubbedEvent"/>) and written straight
    /// to UTF-8 (<see cref="AuditEventWriter"/>). The line goes into <paramref name="lines"/> when given (the writer's batch
    /// buffer: no array per record; the record then holds a slice of it, see <see cref="LineUtf8"/>), else into an array
    /// of its own. Throws <see cref="ArgumentException"/>, <see cref="NullReferenceException"/> or
    /// <see cref="FormatException"/> for an event that cannot be recorded (a null list, a lone surrogate in its type).
    /// </summary>
    internal static AuditRecord Create(long seq, DateTimeOffset time, string prevHash, JitBroker.Core.AuditEvent auditEvent,
        ArrayBufferWriter<byte>? lines = null)
    {
        var e = new ScrubbedEvent(auditEvent);
        var head = new RecordHead(seq, FormatTime(time), prevHash, Hash: null);
        var hash = CanonicalJson.WithScratch((head, e),
            static (output, s) => AuditEventWriter.Write(output, s.head, s.e, sorted: true), static bytes => HexSha256(bytes));
        head = head with { Hash = hash };
        ReadOnlyMemory<byte> line;
        if (lines is null)
        {
            line = CanonicalJson.WithScratch((head, e),
                static (output, s) => AuditEventWriter.Write(output, s.head, s.e, sorted: false), static bytes => bytes.ToArray());
        }
        else
        {
            // A slice of the buffer as it is now: if the buffer grows later, this slice keeps the array it points into.
            // Nothing here can fail half-way for the event's sake: the hash above already wrote the same members.
            var start = lines.WrittenCount;
            AuditEventWriter.Write(lines, head, e, sorted: false);
            line = lines.WrittenMemory[start..];
        }

        return new AuditRecord(null, null, line, seq, head.Time, e.Type, prevHash, hash, hash);
    }

    /// <summary>
    /// Builds and hashes a record the log itself writes (a checkpoint). <paramref name="body"/> holds <c>type</c> and
    /// the members in the order they are written; it is taken over (not copied) and becomes the record: <c>seq</c> and
    /// <c>time</c> go in front, <c>prev_hash</c> and <c>hash</c> at the end. Throws <see cref="ArgumentException"/> when
    /// the body already holds one of those four names.
    /// </summary>
    internal static AuditRecord Create(long seq, DateTimeOffset time, string prevHash, JsonObject body)
    {
        if (body.ContainsKey(AuditFields.Seq) || body.ContainsKey(AuditFields.Time) ||
            body.ContainsKey(AuditFields.PrevHash) || body.ContainsKey(AuditFields.Hash))
        {
            throw new ArgumentException("An audit event cannot set seq, time, prev_hash or hash.", nameof(body));
        }

        var formattedTime = FormatTime(time);
        body.Insert(0, AuditFields.Seq, seq);
        body.Insert(1, AuditFields.Time, formattedTime);
        body[AuditFields.PrevHash] = prevHash;
        var hash = ComputeHash(body);
        body[AuditFields.Hash] = hash;
        return new AuditRecord(body, null, CanonicalJson.SerializeUtf8(body), seq, formattedTime,
            (string)body[AuditFields.Type]!, prevHash, hash, hash);
    }

    /// <summary>
    /// Parses one stored line and recomputes its hash (see <see cref="ComputedHash"/>); does not judge the chain.
    /// Throws <see cref="FormatException"/> (message safe to print) when the line is not a well-formed record.
    /// </summary>
    public static AuditRecord Parse(string line)
    {
        JsonObject json;
        try
        {
            json = JsonNode.Parse(line, documentOptions: StrictJson) as JsonObject
                ?? throw new FormatException("The line is not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new FormatException("The line is not valid JSON: " + e.Message);
        }
        catch (ArgumentException e)
        {
            // Duplicate member names surface as ArgumentException on some paths.
            throw new FormatException("The line is not valid JSON: " + e.Message);
        }

        var seq = json[AuditFields.Seq] is JsonValue s && s.GetValueKind() == JsonValueKind.Number && s.TryGetValue<long>(out var n) && n >= 1
            ? n : throw new FormatException("\"seq\" must be a positive integer.");
        var time = RequiredString(json, AuditFields.Time);
        if (!DateTimeOffset.TryParseExact(time, TimeFormat, CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal, out _))
        {
            throw new FormatException("\"time\" must be an RFC 3339 UTC timestamp with six fraction digits.");
        }

        var type = RequiredString(json, AuditFields.Type);
        var prev = RequiredHex(json, AuditFields.PrevHash);
        var hash = RequiredHex(json, AuditFields.Hash);
        var computed = ComputeHash(json);
        return new AuditRecord(json, line, ReadOnlyMemory<byte>.Empty, seq, time, type, prev, hash, computed);
    }

    /// <summary>SHA-256 over the JCS form of every member except <c>hash</c>, lowercase hex.</summary>
    internal static string ComputeHash(JsonObject json) =>
        Convert.ToHexStringLower(CanonicalJson.CanonicalHash(json, omitTopLevelMember: AuditFields.Hash));

    private static string HexSha256(ReadOnlySpan<byte> bytes)
    {
        Span<byte> digest = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(bytes, digest);
        return Convert.ToHexStringLower(digest);
    }

    private static string RequiredString(JsonObject json, string name) =>
        json[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() is { Length: > 0 } s
            ? s : throw new FormatException($"\"{name}\" must be a non-empty string.");

    private static string RequiredHex(JsonObject json, string name)
    {
        var s = RequiredString(json, name);
        return s.Length == 64 && s.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f')
            ? s : throw new FormatException($"\"{name}\" must be 64 lowercase hex digits.");
    }
}
