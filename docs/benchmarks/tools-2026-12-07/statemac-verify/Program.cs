// CPU time and bytes allocated per StateMac.Verify of a lease's handle tag (docs/benchmarks.md, 2026-12-07, twelfth
// session): the check every lease read makes. Compare two trees:
//   dotnet run -c Release                                            # this tree's JitBroker.Core
//   dotnet run -c Release -p:CORE=/path/to/other/src/JitBroker.Core/JitBroker.Core.csproj
using System.Diagnostics;
using JitBroker.Core;

var mac = new StateMac([.. Enumerable.Range(1, 32).Select(i => (byte)i)]);
string[] fields = ["01JEXAMPLELEASEID0000000000", "jwt", "01JEXAMPLELEASEID0000000000"];
var tag = mac.Sign("lease-handle", fields);
const int Calls = 1_000_000;
for (var round = 1; round <= 3; round++)
{
    var ok = 0;
    var bytes = GC.GetAllocatedBytesForCurrentThread();
    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
    for (var i = 0; i < Calls; i++)
    {
        ok += mac.Verify(tag, "lease-handle", fields) ? 1 : 0;
    }

    var cpuNs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalNanoseconds / Calls;
    var perCall = (GC.GetAllocatedBytesForCurrentThread() - bytes) / (double)Calls;
    Console.WriteLine($"round {round}: {cpuNs:0} ns of CPU and {perCall:0} bytes allocated per Verify ({ok:N0} of {Calls:N0} verified)");
}
