// Bytes the BCL allocates per ECDSA P-256 call on this runtime (docs/benchmarks.md, 2026-12-06 afternoon, item 6a):
// `dotnet run -c Release` here. VerifyData with the JWS's R||S signature, VerifyHash with R||S and with DER, signing.
using System.Security.Cryptography;
var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
var pub = ECDsa.Create(key.ExportParameters(false));
var data = new byte[420]; Random.Shared.NextBytes(data);
var sig = key.SignData(data, HashAlgorithmName.SHA256);
long Measure(string name, Func<bool> f)
{
    for (int i = 0; i < 2000; i++) f();
    var before = GC.GetAllocatedBytesForCurrentThread();
    const int n = 10000; bool ok = true;
    for (int i = 0; i < n; i++) ok &= f();
    var per = (GC.GetAllocatedBytesForCurrentThread() - before) / n;
    Console.WriteLine($"{name}: {per} B/op ok={ok}");
    return per;
}
Measure("VerifyData P1363", () => pub.VerifyData(data, sig, HashAlgorithmName.SHA256));
Measure("VerifyHash P1363", () => { Span<byte> h = stackalloc byte[32]; SHA256.HashData(data, h); return pub.VerifyHash(h, sig); });
Measure("VerifyHash DER", () => { Span<byte> h = stackalloc byte[32]; SHA256.HashData(data, h); Span<byte> der = stackalloc byte[72]; var n = ToDer(sig, der); return pub.VerifyHash(h, der[..n], DSASignatureFormat.Rfc3279DerSequence); });
Measure("SHA256 only", () => { Span<byte> h = stackalloc byte[32]; SHA256.HashData(data, h); return true; });
Measure("KeySize", () => pub.KeySize == 256);
Measure("SignData P1363 into span", () => { Span<byte> s = stackalloc byte[64]; return key.TrySignData(data, s, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, out _); });
Measure("SignHash into span", () => { Span<byte> h = stackalloc byte[32]; SHA256.HashData(data, h); Span<byte> s = stackalloc byte[64]; return key.TrySignHash(h, s, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, out _); });

static int ToDer(ReadOnlySpan<byte> p1363, Span<byte> der)
{
    var half = p1363.Length / 2;
    Span<byte> body = stackalloc byte[70]; var len = 0;
    for (var part = 0; part < 2; part++)
    {
        var v = p1363.Slice(part * half, half);
        var s = 0; while (s < v.Length - 1 && v[s] == 0) s++;
        v = v[s..];
        var pad = (v[0] & 0x80) != 0 ? 1 : 0;
        body[len++] = 0x02; body[len++] = (byte)(v.Length + pad);
        if (pad == 1) body[len++] = 0;
        v.CopyTo(body[len..]); len += v.Length;
    }
    der[0] = 0x30; der[1] = (byte)len; body[..len].CopyTo(der[2..]);
    return len + 2;
}
