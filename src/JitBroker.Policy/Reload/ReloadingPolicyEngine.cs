using JitBroker.Core;
using JitBroker.Policy.Loading;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace JitBroker.Policy;

/// <summary>
/// An <see cref="IPolicyEngine"/> and <see cref="IDelegationPolicy"/> over a policy file or directory that follows
/// edits: every poll interval it reads the files and, when their content hash changed, loads them and swaps the new
/// policy in atomically (rules and delegations together). A policy
/// that does not load leaves the old one in force and is reported once (log event 4103 and
/// <see cref="PolicyReloaded"/>). Polling the content, not file-system events, is deliberate: a Kubernetes
/// ConfigMap update swaps a <c>..data</c> symlink, which changes neither the names nor the mtimes of the
/// <c>name.yaml</c> links the broker reads, and inotify does not see it through them.
/// </summary>
/// <remarks>
/// Readers never see a half-loaded policy: a decision reads the current <see cref="YamlPolicyEngine"/> once
/// (one volatile read of an immutable object) and decides entirely against it. Reloads are serialised.
/// A change is accepted only when two consecutive reads of the files agree, so a ConfigMap or editor caught
/// mid-update is read again at the next poll rather than loaded half old, half new.
/// </remarks>
public sealed class ReloadingPolicyEngine : IPolicyEngine, IPolicyIntentInputs, IDelegationPolicy, IDisposable
{
    private const int StableReadAttempts = 3;

    private readonly string _path;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly bool _requireOwners;
    #pragma warning disable CA2213 // a reload in flight still releases it after Dispose; its wait handle is never created
    private readonly SemaphoreSlim _gate = new(1, 1);
    #pragma warning restore CA2213
    private readonly ITimer? _timer;
    private Snapshot _current;
    private Failure? _lastFailure;
    private volatile bool _disposed;

    /// <summary>
    /// Loads the policy at <paramref name="path"/> now (throwing <see cref="PolicyLoadException"/> if it does not
    /// load: a broker must not start without a policy) and, when <paramref name="pollInterval"/> is positive,
    /// polls it on <paramref name="timeProvider"/>'s timers. <see cref="TimeSpan.Zero"/> disables polling; then
    /// only <see cref="ReloadNowAsync"/> reloads. The same clock drives time conditions.
    /// </summary>
    /// <param name="requireOwners">Refuse (at start, and at every reload) a policy with an allow rule that names no <c>owner</c>.</param>
    public ReloadingPolicyEngine(string path, TimeSpan pollInterval, TimeProvider? timeProvider = null, ILogger<ReloadingPolicyEngine>? logger = null,
        bool requireOwners = false)
    {
        _requireOwners = requireOwners;
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(pollInterval, TimeSpan.Zero);
        _path = path;
        _time = timeProvider ?? TimeProvider.System;
        _log = logger ?? (ILogger)NullLogger.Instance;

        var (content, problem) = ReadStable();
        var engine = YamlPolicyEngine.FromContent(content ?? throw new PolicyLoadException(path, 0, 0, problem!), _time, _requireOwners);
        _current = new Snapshot(engine, 1);
        PolicyLog.PolicyLoaded(_log, 1, path, engine.RuleCount, engine.DelegationCount, engine.SourceFiles.Count, engine.ContentHash);
        if (pollInterval > TimeSpan.Zero)
        {
            _timer = _time.CreateTimer(_ => _ = PollAsync(), null, pollInterval, pollInterval);
        }
    }

    /// <summary>
    /// Raised after a reload swapped a new policy in, and after a reload failed on content not reported before.
    /// Raised on the reloading thread, after the swap; handlers should return quickly (hand long work, such as
    /// re-evaluating active leases, to a queue). A handler that throws is logged and does not undo the reload.
    /// </summary>
    public event EventHandler<PolicyReloadResult>? PolicyReloaded;

    /// <summary>The policy in force. Decide against one snapshot to evaluate many requests under one version.</summary>
    public YamlPolicyEngine Current => Volatile.Read(ref _current).Engine;

    /// <summary>Version of the policy in force: 1 at start, one higher after every successful change.</summary>
    public long Version => Volatile.Read(ref _current).Version;

    /// <inheritdoc />
    public PolicyDecision Decide(WorkloadIdentity agent, CredentialRequest request) =>
        Volatile.Read(ref _current).Engine.Decide(agent, request);

    /// <summary>What the policy in force reads of an intent (a reload may change it).</summary>
    public IntentInputs IntentInputs => Volatile.Read(ref _current).Engine.IntentInputs;

    /// <summary>Decides a delegation against the policy in force; rules and delegations of one version are swapped together.</summary>
    public DelegationDecision Decide(WorkloadIdentity planner, string workerId, string action) =>
        Volatile.Read(ref _current).Engine.Decide(planner, workerId, action);

    /// <summary>
    /// Reads the files now and swaps in a changed policy that loads. Returns what happened; never throws for a
    /// policy problem (that is a failed result). Waits for a reload already running.
    /// </summary>
    public async Task<PolicyReloadResult> ReloadNowAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        (PolicyReloadResult Result, bool Notify) outcome;
        try
        {
            outcome = ReloadCore();
        }
        finally
        {
            _gate.Release();
        }

        if (outcome.Notify)
        {
            Notify(outcome.Result);
        }

        return outcome.Result;
    }

    public void Dispose()
    {
        _disposed = true;
        _timer?.Dispose();
    }

    private async Task PollAsync()
    {
        // A poll that finds a reload running skips its turn: the running one reads the same files.
        if (_disposed || !_gate.Wait(0))
        {
            return;
        }

        _gate.Release();
        try
        {
            await ReloadNowAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not ObjectDisposedException)
        {
            PolicyLog.ReloadCrashed(_log, _path, ex);
        }
        catch (ObjectDisposedException)
        {
            // Disposed between the check and the reload: nothing to do.
        }
    }

    private (PolicyReloadResult Result, bool Notify) ReloadCore()
    {
        var current = Volatile.Read(ref _current);
        var (content, readProblem) = ReadStable(current.Engine.ContentHash);
        if (content is null)
        {
            return Fail(current, readProblem!, null);
        }

        if (content.ContentHash == current.Engine.ContentHash)
        {
            // Back to (or still at) the policy in force: a later failure is news again.
            _lastFailure = null;
            return (Result(current, succeeded: true, changed: false, error: null, rejected: null), false);
        }

        if (_lastFailure is { } known && known.ContentHash == content.ContentHash)
        {
            return (Result(current, succeeded: false, changed: false, known.Problem, content.ContentHash), false);
        }

        YamlPolicyEngine engine;
        try
        {
            engine = YamlPolicyEngine.FromContent(content, _time, _requireOwners);
        }
        catch (PolicyLoadException ex)
        {
            return Fail(current, ex.Message, content.ContentHash);
        }

        var next = new Snapshot(engine, current.Version + 1);
        Volatile.Write(ref _current, next);
        _lastFailure = null;
        PolicyLog.PolicyReloaded(_log, next.Version, _path, engine.RuleCount, engine.DelegationCount, engine.SourceFiles.Count, engine.ContentHash, current.Engine.ContentHash);
        return (Result(next, succeeded: true, changed: true, error: null, rejected: null), true);
    }

    private (PolicyReloadResult Result, bool Notify) Fail(Snapshot current, string problem, string? rejectedHash)
    {
        // Reported once per distinct problem: a broken file polled every few seconds must not flood the log.
        var isNew = _lastFailure is not { } known || known.Problem != problem || known.ContentHash != rejectedHash;
        _lastFailure = new Failure(problem, rejectedHash);
        if (isNew)
        {
            PolicyLog.PolicyReloadFailed(_log, _path, current.Version, current.Engine.ContentHash, problem);
        }

        return (Result(current, succeeded: false, changed: false, problem, rejectedHash), isNew);
    }

    /// <summary>
    /// Reads the files; when they differ from <paramref name="knownHash"/>, reads again until two reads agree, so
    /// that a set of files caught mid-update is never loaded. Returns the content, or null and the problem.
    /// </summary>
    private (PolicySourceContent? Content, string? Problem) ReadStable(string? knownHash = null)
    {
        try
        {
            var first = PolicySource.Read(_path);
            if (first.ContentHash == knownHash)
            {
                return (first, null);
            }

            for (var attempt = 1; attempt < StableReadAttempts; attempt++)
            {
                var second = PolicySource.Read(_path);
                if (second.ContentHash == first.ContentHash)
                {
                    return (second, null);
                }

                first = second;
            }

            return (null, $"{_path}: the policy files kept changing while being read; trying again at the next poll");
        }
        catch (PolicyLoadException ex)
        {
            return (null, ex.Message);
        }
    }

    private PolicyReloadResult Result(Snapshot inForce, bool succeeded, bool changed, string? error, string? rejected) =>
        new(succeeded, changed, inForce.Version, inForce.Engine.ContentHash, inForce.Engine.RuleCount,
            inForce.Engine.SourceFiles.Count, error, rejected, _time.GetUtcNow());

    private void Notify(PolicyReloadResult result)
    {
        try
        {
            PolicyReloaded?.Invoke(this, result);
        }
        catch (Exception ex)
        {
            PolicyLog.SubscriberFailed(_log, ex);
        }
    }

    /// <summary>An immutable pair swapped as one reference, so version and policy can never disagree.</summary>
    private sealed record Snapshot(YamlPolicyEngine Engine, long Version);

    private sealed record Failure(string Problem, string? ContentHash);
}
