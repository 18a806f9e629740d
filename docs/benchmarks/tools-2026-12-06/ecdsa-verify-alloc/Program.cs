// Bytes the BCL's ECDSA (P-256, SHA-256) allocates per verify on this platform, for a JWS signature (IEEE P1363, what
// BundleKey.Verify passes) and for the same signature in DER (docs/benchmarks.md, 2026-12-06 night). Run:
//   dotnet run -c Release
using System.Formats.Asn1;
using System.Security.Cryptography;

using var signer = ECDsa.Create(ECCurve.NamedCurves.nistP256);
var data = new byte[600];
Random.Shared.NextBytes(data);
var p1363 = signer.SignData(data, HashAlgorithmName.SHA256);
var writer = new AsnWriter(AsnEncodingRules.DER);
writer.PushSequence();
writer.WriteIntegerUnsigned(p1363.AsSpan(0, 32));
writer.WriteIntegerUnsigned(p1363.AsSpan(32));
writer.PopSequence();
var der = writer.Encode();
using var verifier = ECDsa.Create(signer.ExportParameters(false));

for (var i = 0; i < 100; i++) // compiled and warmed before measuring
{
    verifier.VerifyData(data, p1363, HashAlgorithmName.SHA256);
    verifier.VerifyData(data, der, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
}

const int Verifies = 1000;
var ok = true;
var start = GC.GetAllocatedBytesForCurrentThread();
for (var i = 0; i < Verifies; i++)
{
    ok &= verifier.VerifyData(data.AsSpan(), p1363.AsSpan(), HashAlgorithmName.SHA256);
}

var afterP1363 = GC.GetAllocatedBytesForCurrentThread();
for (var i = 0; i < Verifies; i++)
{
    ok &= verifier.VerifyData(data.AsSpan(), der.AsSpan(), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
}

var afterDer = GC.GetAllocatedBytesForCurrentThread();
Console.WriteLine($"all verified: {ok}; IEEE P1363 {(afterP1363 - start) / (double)Verifies:0} B/verify, DER {(afterDer - afterP1363) / (double)Verifies:0} B/verify");
