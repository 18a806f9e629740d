using JitBroker.Attestation;
using JitBroker.Audit;
using JitBroker.Core;
using JitBroker.Core.Admission;
using JitBroker.Core.Handlers;
using JitBroker.Core.Series;
using JitBroker.Issuance;
using JitBroker.Leases;
using JitBroker.Policy;
using JitBroker.Redis;
using JitBroker.Revocation;
using JitBroker.Vault;

namespace JitBroker.Server;

/// <summary>Which implementation stands behind each interface, chosen from settings. Nothing else decides it.</summary>
internal static class BrokerServices
{
    /// <summary>Where a generated audit checkpoint key lives inside the data directory (apart from the token key).</summary>
    public const string AuditKeyDirectory = "audit-signing-key";

    public static void Add(IServiceCollection services, JitBrokerSettings settings, BoundEndpoints endpoints)
    {
        services.AddSingleton(settings);
        services.AddSingleton(endpoints);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(settings.Broker);
        services.AddSingleton(settings.Admin);
        services.AddSingleton(settings.Introspection);
        services.AddSingleton(settings.Tools);

        // 1 attest
        services.AddJitBrokerAttestation(settings.Attestation);
        services.AddSingleton(sp => new AttestorRegistry(sp.GetServices<IWorkloadAttestor>()));

        // 4 decide
        services.AddJitBrokerPolicy(settings.Policy);

        // 5 mint: the built-in JWT issuer always; Vault issuers when Vault is configured
        services.AddSingleton(settings.SigningKey.ToOptions(settings.DataDirectory));
        if (settings.SigningKey.RotationSchedule is { } rotation)
        {
            // Validated: no configured key file, algorithm ES256 (derived keys are P-256); production names the root secret,
            // embedded generates one into the data directory. Epochs count from the Unix epoch, so every replica and every
            // restart derives the same keys.
            services.AddSingleton<ISigningKeyProvider>(sp =>
            {
                var root = settings.SigningKey.RotationRootSecretPath is { Length: > 0 } path
                    ? RotationRootSecretFile.Read(path)
                    : RotationRootSecretFile.ReadOrGenerate(settings.DataDirectory, out _);
                try
                {
                    var log = sp.GetRequiredService<ILogger<BrokerStartup>>();
                    var fingerprint = DerivedSigningKey.Fingerprint(root);
                    BrokerStartup.LogRotationRootSecret(log, fingerprint, rotation.Interval);
                    // PreviousPublicKeyPemPaths stay published beside the derived keys: the switch from a key file to rotation
                    // keeps the old key's tokens verifiable until they expire.
#pragma warning disable CA2000 // owned and disposed by the provider
                    var previous = settings.SigningKey.PreviousPublicKeyPemPaths
                        .Select(p => SigningKey.FromPreviousPublicKeyPem(File.ReadAllText(p), settings.SigningKey.Algorithm)).ToList();
                    return new ScheduledRotationSigningKeyProvider(root, DateTimeOffset.UnixEpoch, rotation, sp.GetRequiredService<TimeProvider>(), previous);
#pragma warning restore CA2000
                }
                finally
                {
                    System.Security.Cryptography.CryptographicOperations.ZeroMemory(root);
                }
            });
        }
        else
        {
            services.AddSingleton<ISigningKeyProvider, FileSigningKeyProvider>();
        }

        // Audit checkpoints get their own key (docs/audit.md): the token key cannot re-sign rewritten history.
        services.AddSingleton(sp => new AuditSigningKeys(
            new FileSigningKeyProvider(settings.AuditSigningKey.ToOptions(Path.Combine(settings.DataDirectory, AuditKeyDirectory)),
                sp.GetRequiredService<ILogger<FileSigningKeyProvider>>()),
            sp.GetRequiredService<ISigningKeyProvider>()));
        services.AddSingleton(settings.Issuer);
        services.AddSingleton<JwtCredentialIssuer>();
        services.AddSingleton<ICredentialIssuer>(sp => sp.GetRequiredService<JwtCredentialIssuer>());
        services.AddSingleton<ITaskCredentialVerifier>(sp => sp.GetRequiredService<JwtCredentialIssuer>());
        services.AddSingleton<IDelegationOfferCodec, DelegationOfferCodec>();
        if (settings.Vault.Address is not null)
        {
            services.AddJitBrokerVault(settings.Vault);
            services.AddSingleton<IReadinessCheck>(sp => new DelegateReadiness("vault", sp.GetRequiredService<VaultReadiness>().IsReachableAsync));
        }

        services.AddSingleton(sp => new IssuerRegistry(sp.GetServices<ICredentialIssuer>()));

        // 6 record: leases, replay cache, kill switch and approvals live together (Redis in production)
        if (settings.UsesRedis)
        {
            // Approvals, blocks and lease handles in Redis are authenticated with a key Redis never sees (docs/security.md).
            var stateMac = LoadStateMac(settings);
            services.AddSingleton(stateMac);
            services.AddJitBrokerRedis(settings.Redis, stateMac);
            services.AddSingleton<IReadinessCheck>(sp => new DelegateReadiness("redis", sp.GetRequiredService<IRedisConnection>().PingAsync));
        }
        else
        {
            services.AddJitBrokerInMemoryStores();
        }

        // 7 audit: the file is the chain; with Redis, every record is mirrored to this replica's stream too
        var replicaId = settings.Audit.EffectiveReplicaId(Environment.MachineName);
        if (settings.UsesRedis)
        {
            // With Redis:AuditUser the mirror connects as the append-only audit user (docs/redis.md), not as the broker.
            if (settings.Redis.ForAuditMirror() is { } auditRedis)
            {
                services.AddSingleton(sp => new AuditMirrorConnection(new RedisConnection(auditRedis, TimeProvider.System, sp.GetService<ILogger<RedisConnection>>())));
            }

            services.AddSingleton<IAuditSink>(sp => new MirroredAuditSink(new AuditFileSink(settings.Audit), AuditRedis(sp),
                $"{settings.Redis.KeyPrefix}audit:{replicaId}"));
            // Revocations are marked with this replica as the owner of their outbox entries; any replica writes the
            // records a dead one owed, after searching the dead one's stream (read as the audit user: the broker's may not).
            services.AddSingleton<IAuditChainIndex>(sp => new RedisAuditChainIndex(AuditRedis(sp), settings.Redis.KeyPrefix, replicaId, settings.Audit.Path));
            services.AddSingleton(sp => new RevocationAuditTrail(sp.GetRequiredService<IAuditLog>(), sp.GetRequiredService<ILogger<RevocationAuditTrail>>(),
                sp.GetRequiredService<IRevocationOutbox>(), replicaId));
            services.AddSingleton(sp => new UnauditedRevocationRecovery(sp.GetRequiredService<IRevocationOutbox>(), sp.GetRequiredService<IAuditChainIndex>(),
                sp.GetRequiredService<ILeaseLedger>(), sp.GetRequiredService<IAuditLog>(), sp.GetRequiredService<RevocationAuditTrail>(),
                sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<UnauditedRevocationRecovery>>(),
                settings.Revocation.HeartbeatTtl, settings.Revocation.UnauditedGrace));
        }
        else
        {
            // One process holds the ledger and the log: nothing outlives it that an outbox would have to reconcile.
            services.AddSingleton(sp => new RevocationAuditTrail(sp.GetRequiredService<IAuditLog>(), sp.GetRequiredService<ILogger<RevocationAuditTrail>>()));
        }

        services.AddJitBrokerAudit(settings.Audit);
        services.AddSingleton<FileAuditReader>();
        services.AddSingleton<IAuditReader>(sp => sp.GetRequiredService<FileAuditReader>());
        services.AddSingleton<IAuditHistory>(sp => sp.GetRequiredService<FileAuditReader>());
        // Not ready before the audit volume is full: a full volume makes every issuance fail closed.
        services.AddSingleton<IReadinessCheck>(sp => new AuditDiskWatermark(settings.Audit, PhysicalAuditFileSystem.Instance,
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<AuditDiskWatermark>>()));

        services.AddSingleton<BrokerMetrics>();

        services.AddSingleton(new RetryBackoff(settings.Broker.RetryInitialDelay, settings.Broker.RetryMaxDelay));
        services.AddSingleton<LeaseRevoker>();
        services.AddSingleton<ApprovalService>();
        services.AddSingleton<ReplayGuard>();

        // The use cases (one handler each) and the steps they share: admission (attest, replay, kill switch), commit (mint,
        // record, kill switch again, audit — or undo), usability up a delegation chain, revocation now.
        services.AddSingleton<BestEffortAudit>();
        // Unauthenticated callers: rate limited per peer before attestation, their failures audited once per interval.
        services.AddSingleton(settings.Admission);
        services.AddSingleton<PeerRateLimiter>();
        services.AddSingleton<AttestationFailureSummary>();
        services.AddSingleton<AgentAdmission>();
        services.AddSingleton(sp => new AgentRateLimiter(sp.GetRequiredService<TimeProvider>(), settings.Broker.Quotas.MaxTrackedAgents));
        services.AddSingleton<QuotaGuard>();
        services.AddSingleton<LeaseTermination>();
        services.AddSingleton<CredentialCommit>();
        services.AddSingleton<LeaseUsability>();
        // The policy documents' `delegations:` section; without one, nobody may delegate.
        services.AddSingleton(sp => new DelegationRules(sp.GetServices<ITaskCredentialVerifier>(), sp.GetRequiredService<ILeaseLedger>(),
            sp.GetService<IDelegationPolicy>()));
        services.AddSingleton<RequestCredentialHandler>();
        services.AddSingleton<EndTaskHandler>();
        services.AddSingleton<IntrospectionHandler>();
        services.AddSingleton<RenewCredentialHandler>();
        services.AddSingleton<OfferDelegationHandler>();
        services.AddSingleton<DelegateCredentialHandler>();
        services.AddSingleton<ToolUseChecks>();
        services.AddSingleton<ReportUsesHandler>();
        services.AddSingleton<AdminAuthorization>();
        services.AddSingleton<OperatorRevocation>();
        services.AddSingleton<ListLeasesHandler>();
        services.AddSingleton<RevokeLeasesHandler>();
        services.AddSingleton<BlockOperations>();
        services.AddSingleton<KillSwitchHandler>();
        services.AddSingleton<ApprovalDecisionHandler>();
        services.AddSingleton<PolicyReevaluator>();

        services.AddSingleton<CredentialBrokerGrpcService>();
        services.AddSingleton<BrokerAdminGrpcService>();
        services.AddJitBrokerRevocation(settings.Revocation);
        // After AddJitBrokerAudit: hosted services stop in reverse order, so a re-evaluation in flight is audited before the log closes.
        services.AddHostedService<PolicyReevaluationService>();
        services.AddHostedService<AttestationFailureSummaryService>();
        services.AddHostedService<LeaseGauges>();
        // The console's overview charts: this replica's meter, sampled into bounded rings (one hour).
        services.AddSingleton<BrokerSeries>();
        services.AddHostedService<SeriesSampling>();
    }

    // The audit mirror's connection: the append-only audit user's when configured (docs/redis.md), else the broker's.
    private static StateMac LoadStateMac(JitBrokerSettings settings)
    {
        try
        {
            // Generated into the data directory only where validation allowed an unset key: the embedded profile.
            return StateIntegrityKeyFile.Load(settings.StateIntegrity, settings.DataDirectory, out _);
        }
        catch (BrokerException ex) when (ex.Failure == BrokerFailure.FailedPrecondition)
        {
            throw new InvalidBrokerConfigurationException([ex.Message]);
        }
    }

    private static IRedisConnection AuditRedis(IServiceProvider sp) =>
        sp.GetService<AuditMirrorConnection>()?.Connection ?? sp.GetRequiredService<IRedisConnection>();

    /// <summary>
    /// Builds what can fail on configuration now, not on the first request: the policy loads, trust bundles
    /// start fetching, the signing key is read or generated, the audit log checks its tail.
    /// </summary>
    public static void ResolveEagerly(IServiceProvider services, JitBrokerSettings settings)
    {
        var log = services.GetRequiredService<ILogger<BrokerStartup>>();
        BrokerStartup.LogStarting(log, settings.Profile, settings.Leases.Store);
        if (!settings.UsesRedis)
        {
            BrokerStartup.LogInMemoryLeases(log);
        }

        if (settings.IsEmbedded)
        {
            BrokerStartup.LogEmbeddedProfile(log, DevTrustDomain.Name);
        }

        if (services.GetService<StateMac>() is { } stateMac)
        {
            BrokerStartup.LogStateIntegrityKey(log, stateMac.KeyId);
        }

        if (!settings.IsEmbedded && settings.UsesRedis && !settings.Redis.UseTls && settings.Redis.CleartextBehindMesh)
        {
            BrokerStartup.LogBackendCleartextBehindMesh(log, "Redis", RedisOptions.SectionPath);
        }

        if (!settings.IsEmbedded && settings.Vault.Address is { Scheme: "http" } && settings.Vault.CleartextBehindMesh)
        {
            BrokerStartup.LogBackendCleartextBehindMesh(log, "Vault", VaultOptions.SectionPath);
        }

        // Exporters listen from the start (the Meter is created with the broker below).
        _ = services.GetService<OpenTelemetry.Metrics.MeterProvider>();
        _ = services.GetService<OpenTelemetry.Trace.TracerProvider>();
        try
        {
            _ = services.GetRequiredService<IPolicyEngine>();
        }
        catch (PolicyLoadException ex)
        {
            throw new InvalidBrokerConfigurationException([$"Policy: {ex.Message}"]);
        }

        try
        {
            _ = services.GetRequiredService<AttestorRegistry>();
            _ = services.GetRequiredService<ISigningKeyProvider>();
            _ = services.GetRequiredService<AuditSigningKeys>();
            _ = services.GetRequiredService<IssuerRegistry>();
            _ = services.GetRequiredService<RequestCredentialHandler>();
            _ = services.GetRequiredService<DelegateCredentialHandler>();
        }
        catch (BrokerException ex) when (ex.Failure == BrokerFailure.FailedPrecondition)
        {
            throw new InvalidBrokerConfigurationException([ex.Message]);
        }
        catch (InvalidOperationException ex)
        {
            throw new InvalidBrokerConfigurationException([ex.Message]);
        }
    }
}

/// <summary>A readiness check from a delegate (Redis PING, Vault sys/health).</summary>
internal sealed class DelegateReadiness(string name, Func<CancellationToken, Task<bool>> check) : IReadinessCheck
{
    public string Name => name;

    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await check(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return false;
        }
    }
}

/// <summary>The audit mirror's own Redis connection (its own ACL user); disposed with the container.</summary>
internal sealed class AuditMirrorConnection(RedisConnection connection) : IAsyncDisposable
{
    public RedisConnection Connection { get; } = connection;

    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}
