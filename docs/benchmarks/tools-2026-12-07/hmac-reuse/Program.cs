// One-shot HMAC-SHA256 (what StateMac does per tag) against a keyed IncrementalHash reused, and plain SHA-256, of 120
// bytes (docs/benchmarks.md, 2026-12-07, twelfth session: "Checked and not done"). `dotnet run -c Release`.
using System.Diagnostics;
using System.Security.Cryptography;
var key = new byte[32]; RandomNumberGenerator.Fill(key);
var data = new byte[120]; RandomNumberGenerator.Fill(data);
Span<byte> mac = stackalloc byte[32];
const int N = 1_000_000;
var inc = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
for (var r = 0; r < 3; r++)
{
    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
    for (var i = 0; i < N; i++) HMACSHA256.HashData(key, data, mac);
    var a = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalNanoseconds / N;
    cpu = Process.GetCurrentProcess().TotalProcessorTime;
    for (var i = 0; i < N; i++) { inc.AppendData(data); inc.GetHashAndReset(mac); }
    var b = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalNanoseconds / N;
    cpu = Process.GetCurrentProcess().TotalProcessorTime;
    for (var i = 0; i < N; i++) SHA256.HashData(data, mac);
    var c = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalNanoseconds / N;
    Console.WriteLine($"one-shot HMAC {a:0} ns, reused IncrementalHash {b:0} ns, plain SHA-256 {c:0} ns");
}
