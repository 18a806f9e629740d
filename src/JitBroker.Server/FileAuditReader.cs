using JitBroker.Audit;
using JitBroker.Issuance;
using JitBroker.Protocol.V1;

namespace JitBroker.Server;

/// <summary>
/// The admin API's and the console's view of the audit file: tail, verify, a task's story, an agent's latest records —
/// verified against the audit checkpoint key (not the token key).
/// </summary>
internal sealed class FileAuditReader(AuditOptions options, AuditSigningKeys keys) : IAuditReader, IAuditHistory
{
    public async Task<IReadOnlyList<string>> TailAsync(int count, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(options.Path))
        {
            return [];
        }

        await using var stream = new FileStream(options.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var (lines, _) = AuditFileReader.ReadLastLines(stream, count);
        return lines;
    }

    public async Task<AuditTaskTrace> TraceTaskAsync(string taskId, string? agentId, CancellationToken cancellationToken = default)
    {
        using var checkpointKeys = AuditCheckpointKeys.FromProvider(keys.Provider);
        var verifier = new AuditVerifierOptions { Keys = checkpointKeys, AllowIncompleteLastLine = true };
        if (!File.Exists(options.Path))
        {
            // No file yet: an empty chain, trivially intact, and no story.
            using var empty = new MemoryStream();
            return new AuditTaskTrace(await new AuditVerifier(verifier).VerifyAsync(empty, cancellationToken), []);
        }

        return await AuditTrace.ReadTaskAsync(options.Path, verifier, taskId, agentId, cancellationToken);
    }

    public async Task<IReadOnlyList<AuditRecord>> RecentForAgentAsync(string agentId, int max, int scan, CancellationToken cancellationToken = default)
    {
        var records = new List<AuditRecord>();
        foreach (var line in await TailAsync(scan, cancellationToken))
        {
            try
            {
                records.Add(AuditRecord.Parse(line));
            }
            catch (FormatException)
            {
                // A torn last line or a foreign one: verification is where it is reported.
            }
        }

        return [.. records.Where(r => !r.IsCheckpoint && r.GetString(AuditFields.AgentId) == agentId).TakeLast(max)];
    }

    public async Task<VerifyAuditResponse> VerifyAsync(CancellationToken cancellationToken = default)
    {
        using var checkpointKeys = AuditCheckpointKeys.FromProvider(keys.Provider);
        // A write may be in progress: the last line can be incomplete without that being tampering.
        var verifier = new AuditVerifier(new AuditVerifierOptions { Keys = checkpointKeys, AllowIncompleteLastLine = true });
        var result = await verifier.VerifyFileAsync(options.Path, cancellationToken);
        var response = new VerifyAuditResponse
        {
            Ok = result.Ok,
            EventsChecked = result.EventsChecked,
            CheckpointsVerified = result.CheckpointsVerified,
        };
        if (result.FirstFailure is { } failure)
        {
            response.FirstBadSequence = failure.Seq ?? 0;
            response.FirstBadLine = failure.LineNumber;
            response.Problem = $"{failure.Kind}: {failure.Message}";
        }

        return response;
    }
}
