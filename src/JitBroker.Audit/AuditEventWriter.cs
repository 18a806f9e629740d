using System.Buffers;

namespace JitBroker.Audit;

/// <summary>The members a log adds to every record: <c>seq</c> and <c>time</c> first, <c>prev_hash</c> and <c>hash</c> last.</summary>
internal readonly record struct RecordHead(long Seq, string Time, string PrevHash, string? Hash);

/// <summary>
/// Writes an event's record straight to UTF-8 with <see cref="CanonicalJson"/>'s escaping, no JSON tree in between:
/// in the stored order (the line, <c>hash</c> last) or in JCS order without <c>hash</c> (what the hash covers). Why: the
/// tree (a JsonObject per record, a node per member) was a sixth of everything the broker allocated per request.
/// The member names and the stored order are those of docs/audit.md; the sorted order is computed from the names,
/// never written by hand. Absent (null) members are left out.
/// </summary>
internal static class AuditEventWriter
{
    // Each object's members in stored order; its names array is indexed by the same enum. Internal, not private, so
    // AuditEventWriterNamesTests can check each array against its enum: a slip would otherwise show only as a golden
    // line that differs, far from its cause.
    internal enum Top { Seq, Time, Type, AgentId, TaskId, Intent, Decision, RuleIds, LeaseId, ParentLeaseId, CredentialFingerprint, Reason, Detail, Actor, Owner, Use, PrevHash, Hash }

    internal enum Intent { Action, Purpose, Tools, Resources, Context }

    internal enum Use { Tool, Action, Resource, Outcome, At, Audience, Late }

    internal static readonly string[] TopNames =
    [
        AuditFields.Seq, AuditFields.Time, AuditFields.Type, AuditFields.AgentId, AuditFields.TaskId, AuditFields.Intent,
        AuditFields.Decision, AuditFields.RuleIds, AuditFields.LeaseId, AuditFields.ParentLeaseId,
        AuditFields.CredentialFingerprint, AuditFields.Reason, AuditFields.Detail, AuditFields.Actor, AuditFields.Owner,
        AuditFields.Use, AuditFields.PrevHash, AuditFields.Hash,
    ];

    internal static readonly string[] IntentNames =
    [
        AuditFields.IntentAction, AuditFields.IntentPurpose, AuditFields.IntentTools, AuditFields.IntentResources,
        AuditFields.IntentContext,
    ];

    internal static readonly string[] UseNames =
    [
        AuditFields.UseTool, AuditFields.UseAction, AuditFields.UseResource, AuditFields.UseOutcome, AuditFields.UseAt,
        AuditFields.UseAudience, AuditFields.UseLate,
    ];

    private static readonly int[] TopSorted = SortedOrder(TopNames);
    private static readonly int[] IntentSorted = SortedOrder(IntentNames);
    private static readonly int[] UseSorted = SortedOrder(UseNames);

    /// <summary>The record of <paramref name="e"/>: stored order when <paramref name="sorted"/> is false, else the JCS form.</summary>
    public static void Write(ArrayBufferWriter<byte> output, in RecordHead head, ScrubbedEvent e, bool sorted) =>
        WriteObject(output, new TopMembers(head, e, sorted), TopNames, TopSorted, sorted);

    private static void WriteObject<T>(ArrayBufferWriter<byte> output, in T members, string[] names, int[] sortedOrder, bool sorted)
        where T : struct, IMembers
    {
        CanonicalJson.WriteByte(output, (byte)'{');
        var first = true;
        for (var k = 0; k < names.Length; k++)
        {
            var i = sorted ? sortedOrder[k] : k;
            if (!members.Has(i))
            {
                continue;
            }

            if (!first)
            {
                CanonicalJson.WriteByte(output, (byte)',');
            }

            first = false;
            CanonicalJson.WriteString(output, names[i]);
            CanonicalJson.WriteByte(output, (byte)':');
            members.WriteValue(output, i);
        }

        CanonicalJson.WriteByte(output, (byte)'}');
    }

    private static void WriteStrings(ArrayBufferWriter<byte> output, IReadOnlyList<string> values)
    {
        CanonicalJson.WriteByte(output, (byte)'[');
        for (var i = 0; i < values.Count; i++)
        {
            if (i > 0)
            {
                CanonicalJson.WriteByte(output, (byte)',');
            }

            CanonicalJson.WriteString(output, values[i]);
        }

        CanonicalJson.WriteByte(output, (byte)']');
    }

    private static void WriteContext(ArrayBufferWriter<byte> output, ScrubbedContext context, bool sorted)
    {
        CanonicalJson.WriteByte(output, (byte)'{');
        var members = (sorted ? context.Sorted : context.AsGiven).Span;
        for (var i = 0; i < members.Length; i++)
        {
            if (i > 0)
            {
                CanonicalJson.WriteByte(output, (byte)',');
            }

            CanonicalJson.WriteString(output, members[i].Key);
            CanonicalJson.WriteByte(output, (byte)':');
            CanonicalJson.WriteString(output, members[i].Value);
        }

        CanonicalJson.WriteByte(output, (byte)'}');
    }

    private static int[] SortedOrder(string[] names) =>
        [.. Enumerable.Range(0, names.Length).OrderBy(i => names[i], StringComparer.Ordinal)];

    // One object's members by index into its names; a struct so the generic writer is specialized, nothing allocated.
    private interface IMembers
    {
        bool Has(int i);

        void WriteValue(ArrayBufferWriter<byte> output, int i);
    }

    private readonly struct TopMembers(RecordHead head, ScrubbedEvent e, bool sorted) : IMembers
    {
        public bool Has(int i) => (Top)i switch
        {
            Top.AgentId => e.AgentId is not null,
            Top.TaskId => e.TaskId is not null,
            Top.Intent => e.HasIntent,
            Top.Decision => e.Decision is not null,
            Top.LeaseId => e.LeaseId is not null,
            Top.ParentLeaseId => e.ParentLeaseId is not null,
            Top.CredentialFingerprint => e.CredentialFingerprint is not null,
            Top.Reason => e.Reason is not null,
            Top.Detail => e.Detail is not null,
            Top.Actor => e.Actor is not null,
            Top.Owner => e.Owner is not null,
            Top.Use => e.Use is not null,
            Top.Hash => head.Hash is not null,
            _ => true,
        };

        public void WriteValue(ArrayBufferWriter<byte> output, int i)
        {
            switch ((Top)i)
            {
                case Top.Seq: CanonicalJson.WriteSafeInteger(output, head.Seq); break;
                case Top.Time: CanonicalJson.WriteString(output, head.Time); break;
                case Top.Type: CanonicalJson.WriteString(output, e.Type); break;
                case Top.AgentId: CanonicalJson.WriteString(output, e.AgentId!); break;
                case Top.TaskId: CanonicalJson.WriteString(output, e.TaskId!); break;
                case Top.Intent: WriteObject(output, new IntentMembers(e, sorted), IntentNames, IntentSorted, sorted); break;
                case Top.Decision: CanonicalJson.WriteString(output, e.Decision!); break;
                case Top.RuleIds: WriteStrings(output, e.RuleIds); break;
                case Top.LeaseId: CanonicalJson.WriteString(output, e.LeaseId!); break;
                case Top.ParentLeaseId: CanonicalJson.WriteString(output, e.ParentLeaseId!); break;
                case Top.CredentialFingerprint: CanonicalJson.WriteString(output, e.CredentialFingerprint!); break;
                case Top.Reason: CanonicalJson.WriteString(output, e.Reason!); break;
                case Top.Detail: CanonicalJson.WriteString(output, e.Detail!); break;
                case Top.Actor: CanonicalJson.WriteString(output, e.Actor!); break;
                case Top.Owner: CanonicalJson.WriteString(output, e.Owner!); break;
                case Top.Use: WriteObject(output, new UseMembers(e), UseNames, UseSorted, sorted); break;
                case Top.PrevHash: CanonicalJson.WriteString(output, head.PrevHash); break;
                case Top.Hash: CanonicalJson.WriteString(output, head.Hash!); break;
                default: throw new ArgumentOutOfRangeException(nameof(i));
            }
        }
    }

    private readonly struct IntentMembers(ScrubbedEvent e, bool sorted) : IMembers
    {
        public bool Has(int i) => true;

        public void WriteValue(ArrayBufferWriter<byte> output, int i)
        {
            switch ((Intent)i)
            {
                case Intent.Action: CanonicalJson.WriteString(output, e.Action!); break;
                case Intent.Purpose: CanonicalJson.WriteString(output, e.Purpose!); break;
                case Intent.Tools: WriteStrings(output, e.Tools); break;
                case Intent.Resources: WriteStrings(output, e.Resources); break;
                case Intent.Context: WriteContext(output, e.Context!, sorted); break;
                default: throw new ArgumentOutOfRangeException(nameof(i));
            }
        }
    }

    private readonly struct UseMembers(ScrubbedEvent e) : IMembers
    {
        public bool Has(int i) => true;

        public void WriteValue(ArrayBufferWriter<byte> output, int i)
        {
            var use = e.Use!;
            switch ((Use)i)
            {
                case Use.Tool: CanonicalJson.WriteString(output, use.Tool); break;
                case Use.Action: CanonicalJson.WriteString(output, use.ToolAction); break;
                case Use.Resource: CanonicalJson.WriteString(output, use.Resource); break;
                case Use.Outcome: CanonicalJson.WriteString(output, use.Outcome); break;
                case Use.At: CanonicalJson.WriteString(output, e.UseAt!); break;
                case Use.Audience: CanonicalJson.WriteString(output, use.Audience); break;
                case Use.Late: CanonicalJson.WriteLiteral(output, use.Late ? "true" : "false"); break;
                default: throw new ArgumentOutOfRangeException(nameof(i));
            }
        }
    }
}
