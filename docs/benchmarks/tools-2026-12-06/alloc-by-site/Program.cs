// Allocation ticks of a broker trace charged to the first JitBroker.* frame (docs/benchmarks.md, 2026-12-06 afternoon,
// "Where a verified request's 18 KiB go, by call site"). During `scripts/perf.sh --phases broker --levels 1 --seconds 40`:
//   dotnet tool install -g dotnet-trace
//   dotnet-trace collect -p <broker pid> --profile gc-verbose --duration 00:00:00:10 -o broker-alloc.nettrace
//   dotnet run -c Release -- broker-alloc.nettrace <requests in those 10 s: the level's req/s × 10>
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;
var path = args[0];
var requests = args.Length > 1 ? double.Parse(args[1]) : 1;
var etlx = TraceLog.CreateFromEventPipeDataFile(path);
using var log = new TraceLog(etlx);
var byFrame = new Dictionary<string, double>(); var byProject = new Dictionary<string, double>(); var byType = new Dictionary<string, double>(); var byPair = new Dictionary<string, double>();
double total = 0; long ticks = 0;
foreach (var ev in log.Events)
{
    if (ev is not GCAllocationTickTraceData tick) continue;
    ticks++;
    var amount = tick.AllocationAmount64; total += amount;
    var type = tick.TypeName ?? "?";
    byType[type] = byType.GetValueOrDefault(type) + amount;
    string frame = "(no JitBroker frame)";
    string chain = "";
    var depth = 0;
    for (var s = ev.CallStack(); s is not null; s = s.Caller)
    {
        var m = s.CodeAddress.Method; var mod = s.CodeAddress.ModuleFile?.Name ?? "";
        var name = m?.FullMethodName ?? s.CodeAddress.FullMethodName ?? "?";
        if (depth < 4) chain += (chain.Length > 0 ? " <- " : "") + Short(name);
        depth++;
        if (name.StartsWith("JitBroker.") || mod.StartsWith("JitBroker")) { frame = Short(name); break; }
    }
    byFrame[frame] = byFrame.GetValueOrDefault(frame) + amount;
    var proj = frame.StartsWith("JitBroker.") ? string.Join('.', frame.Split('.').Take(2)) : frame;
    byProject[proj] = byProject.GetValueOrDefault(proj) + amount;
    var pair = frame + " | " + type + " | " + chain;
    byPair[pair] = byPair.GetValueOrDefault(pair) + amount;
}
Console.WriteLine($"ticks {ticks}, sampled bytes {total / 1e6:0.0} MB; per request (requests={requests}) {total / requests:0} B");
void Top(string title, Dictionary<string, double> d, int n) { Console.WriteLine("== " + title); foreach (var (k, v) in d.OrderByDescending(x => x.Value).Take(n)) Console.WriteLine($"{100 * v / total,5:0.0}% {v / requests,7:0} B/req  {k}"); }
Top("project of the first JitBroker frame", byProject, 20);
Top("first JitBroker frame", byFrame, 40);
Top("type", byType, 25);
Top("frame | type | leaf chain", byPair, 60);
static string Short(string s) => s.Length > 150 ? s[..150] : s;
