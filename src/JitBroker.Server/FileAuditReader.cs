using JitBroker.Audit;
using JitBroker.Issuance;
using JitBroker.Protocol.V1;

namespace JitBroker.Server;

/// <summary>The admin API's view of the audit file: tail and verify, against the audit checkpoint key (not the token key).</summary>
internal sealed class FileAuditReader(AuditOptions options, AuditSigningKeys keys) : IAuditReader
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
