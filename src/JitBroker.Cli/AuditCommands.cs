using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using JitBroker.Audit;

namespace JitBroker.Cli;

/// <summary>
/// <c>jitctl audit verify|tail</c> on an audit JSON-lines file (the broker's Audit:Path, or a copy).
/// verify exits 0 intact, 1 tampered, 2 usage (bad flags, unreadable file or JWKS), 6 JWKS URL unreachable.
/// </summary>
internal static class AuditCommands
{
    private static readonly JsonSerializerOptions JsonOut = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        WriteIndented = true,
    };

    public static Command Create() => new("audit", "Verify or read a tamper-evident audit log file.") { Verify(), Tail(), AuditTraceCommand.Create() };

    private static Command Verify()
    {
        var file = new Argument<FileInfo>("file") { Description = "The audit JSON-lines file." };
        var jwks = new Option<string?>("--jwks")
        {
            Description = "JWKS of the audit checkpoint key: a URL (the broker's /.well-known/audit-jwks.json) or a file. Not the token JWKS.",
        };
        var publicKeys = new Option<FileInfo[]>("--public-key")
        {
            Description = "The audit key's public half as PUBLIC KEY PEM (repeatable, one per key ever used): verify with nothing from the broker.",
        };
        var maxUnsigned = new Option<long?>("--max-unsigned") { Description = "Fail when more events than this follow one another without a checkpoint (use Audit:CheckpointEveryEvents)." };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var command = new Command("verify", "Check the hash chain and checkpoint signatures; name the first bad line (exit 0 intact, 1 tampered).")
        {
            file, jwks, publicKeys, maxUnsigned, json,
        };
        command.SetAction(async (result, ct) =>
        {
            var path = result.GetValue(file)!;
            if (!path.Exists)
            {
                await Console.Error.WriteLineAsync($"error: no such file: {path.FullName}");
                return ExitCodes.Usage;
            }

            var (keys, failed) = await LoadKeysAsync(result, publicKeys, jwks, ct);
            if (failed is { } exit)
            {
                return exit;
            }

            using (keys)
            {
                AuditVerificationResult outcome;
                try
                {
                    var verifier = new AuditVerifier(new AuditVerifierOptions { Keys = keys, MaxUnsignedEvents = result.GetValue(maxUnsigned) });
                    outcome = await verifier.VerifyFileAsync(path.FullName, ct);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    await Console.Error.WriteLineAsync("error: cannot read the audit file: " + e.Message);
                    return ExitCodes.Usage;
                }

                if (result.GetValue(json))
                {
                    Console.WriteLine(JsonSerializer.Serialize(outcome, JsonOut));
                }
                else
                {
                    PrintVerification(path.FullName, outcome);
                }

                return outcome.Ok ? ExitCodes.Ok : ExitCodes.Negative;
            }
        });
        return command;
    }

    private static Command Tail()
    {
        var file = new Argument<FileInfo>("file") { Description = "The audit JSON-lines file." };
        var count = new Option<int>("-n", "--lines") { Description = "How many records to show.", DefaultValueFactory = _ => 20 };
        var json = new Option<bool>("--json") { Description = "Print the stored lines unchanged (JSON lines)." };
        var command = new Command("tail", "Show the last records of an audit log (does not verify; use 'audit verify').") { file, count, json };
        command.SetAction(async (result, ct) =>
        {
            var path = result.GetValue(file)!;
            var n = result.GetValue(count);
            if (n < 1 || !path.Exists)
            {
                await Console.Error.WriteLineAsync(n < 1 ? "error: -n must be at least 1." : $"error: no such file: {path.FullName}");
                return ExitCodes.Usage;
            }

            IReadOnlyList<string> lines;
            await using (var stream = PhysicalAuditFileSystem.Instance.OpenRead(path.FullName))
            {
                lines = AuditFileReader.ReadLastLines(stream, n).Lines;
            }

            if (result.GetValue(json))
            {
                foreach (var line in lines)
                {
                    Console.WriteLine(line);
                }

                return ExitCodes.Ok;
            }

            Table.PrintRows(["SEQ", "TIME", "TYPE", "AGENT", "TASK", "LEASE", "DETAIL"], lines.Select(Row));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string[] Row(string line)
    {
        AuditRecord r;
        try
        {
            r = AuditRecord.Parse(line);
        }
        catch (FormatException e)
        {
            return ["?", "", "(malformed line)", "", "", "", e.Message];
        }

        if (r.IsCheckpoint)
        {
            return [r.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture), r.Time, r.Type, "", "", "",
                $"signs head seq {r.GetInt64(AuditFields.HeadSeq)}, kid {r.GetString(AuditFields.KeyId)}"];
        }

        var detail = string.Join("; ", new[]
        {
            r.GetString(AuditFields.Decision) is { } d ? "decision=" + d : null,
            r.GetString(AuditFields.Reason) is { } reason ? "reason=" + reason : null,
            r.GetStrings(AuditFields.RuleIds) is { Count: > 0 } rules ? "rules=" + string.Join(",", rules) : null,
            r.GetString(AuditFields.Actor) is { } actor ? "by " + actor : null,
            r.GetString(AuditFields.Detail),
        }.Where(s => !string.IsNullOrEmpty(s)));
        return [r.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture), r.Time, r.Type, r.GetString(AuditFields.AgentId) ?? "",
            r.GetString(AuditFields.TaskId) ?? "", r.GetString(AuditFields.LeaseId) ?? "", detail];
    }

    internal static void PrintVerification(string path, AuditVerificationResult r)
    {
        Table.Print(
            ("result", r.Ok ? "INTACT" : "TAMPERED"),
            ("file", path),
            ("records", $"{r.RecordsChecked} checked ({r.EventsChecked} events, {r.CheckpointsSeen} checkpoints)"),
            ("signatures", r.SignaturesChecked
                ? $"{r.CheckpointsVerified} checkpoint(s) verified against the JWKS"
                : "NOT CHECKED: pass --jwks to verify checkpoint signatures"),
            ("last", $"seq {r.LastSeq} hash {r.LastHash}"),
            ("signed", r.SignedThroughSeq is { } s
                ? $"through seq {s}; {r.UnsignedTailEvents} later event(s) are chained but unsigned"
                : "no verified checkpoint"));
        if (r.FirstFailure is { } f)
        {
            Console.WriteLine();
            Console.WriteLine($"first bad line {f.LineNumber}{(f.Seq is { } seq ? $" (seq {seq})" : "")}: {Kind(f.Kind)}: {f.Message}");
        }
    }

    private static string Kind(AuditFailureKind kind) => JsonNamingPolicy.SnakeCaseLower.ConvertName(kind.ToString());

    /// <summary>The checkpoint keys named by --public-key or --jwks (null: none given), or the exit code of a failure to read them.</summary>
    internal static async Task<(AuditCheckpointKeys? Keys, int? Exit)> LoadKeysAsync(ParseResult result, Option<FileInfo[]> publicKeys, Option<string?> jwks,
        CancellationToken ct)
    {
        if (result.GetValue(publicKeys) is { Length: > 0 } pems)
        {
            try
            {
                return (AuditCheckpointKeys.FromPublicKeyPems(pems.Select(p => File.ReadAllText(p.FullName))), null);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                await Console.Error.WriteLineAsync("error: cannot read the audit public key: " + e.Message);
                return (null, ExitCodes.Usage);
            }
        }

        if (result.GetValue(jwks) is { } source)
        {
            try
            {
                return (AuditCheckpointKeys.FromJwks(await ReadJwksAsync(source, ct)), null);
            }
            catch (HttpRequestException e)
            {
                await Console.Error.WriteLineAsync("error: cannot fetch JWKS: " + e.Message);
                return (null, ExitCodes.Unavailable);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                await Console.Error.WriteLineAsync("error: cannot read JWKS: " + e.Message);
                return (null, ExitCodes.Usage);
            }
        }

        return (null, null);
    }

    private static async Task<string> ReadJwksAsync(string source, CancellationToken ct)
    {
        if (Uri.TryCreate(source, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            return await http.GetStringAsync(uri, ct);
        }

        return await File.ReadAllTextAsync(source, ct);
    }
}
