using Microsoft.Extensions.Logging;

namespace JitBroker.Attestation;

/// <summary>
/// Keys from a local file: a SPIFFE bundle (JWT-SVID) or a JWK Set (an OIDC issuer's static JWKS, for
/// air-gapped clusters). Loaded at construction, reloaded when the file changes (checked at most every
/// <see cref="ReloadingFile{T}.CheckInterval"/>). An unknown <c>kid</c> triggers nothing beyond that
/// throttled check: a rotated file is picked up within seconds anyway.
/// </summary>
internal sealed class FileKeySource : IKeySource
{
    private readonly ReloadingFile<TrustBundle> _file;

    /// <summary>Loads the file; throws <see cref="InvalidOperationException"/> naming the file when it is unusable.</summary>
    public FileKeySource(string name, string owner, string path, KeySetProfile profile, TimeProvider time, ILogger log)
    {
        Owner = owner;
        _file = new ReloadingFile<TrustBundle>(
            path,
            p => TrustBundleParser.TryLoadFile(name, p, profile, out var bundle) is { } problem ? (null, problem) : (bundle, null),
            problem => $"Key file '{path}' for {owner} is not a valid {(profile == KeySetProfile.SpiffeBundle ? "SPIFFE bundle" : "JWK Set")}: {problem}.",
            (bundle, reload) => AttestationLog.ReportLoaded(log, owner, path, bundle, reload),
            problem => AttestationLog.BundleReloadFailed(log, owner, path, problem),
            time);
    }

    public string Owner { get; }

    public string Path => _file.Path;

    public TrustBundle? Current => _file.Current;

    public ValueTask<TrustBundle?> RefreshForUnknownKeyAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<TrustBundle?>(_file.Current);

    public void Dispose()
    {
        // Nothing held open: the file is read whole on each (re)load.
    }
}
