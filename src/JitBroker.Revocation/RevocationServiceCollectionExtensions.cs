using JitBroker.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Quartz;

namespace JitBroker.Revocation;

/// <summary>Registers expiry revocation: the next-due sweep loop, and the Quartz-driven consistency pass.</summary>
public static class RevocationServiceCollectionExtensions
{
    /// <summary>Name of the Quartz scheduler revocation runs on, kept apart from any scheduler the host adds.</summary>
    public const string SchedulerName = "jitbroker-revocation";

    /// <summary>Key of the consistency job (orphaned delegations, leases of blocked agents) in <see cref="SchedulerName"/>.</summary>
    public static readonly JobKey ConsistencyJobKey = new("revocation-consistency", "jitbroker");

    /// <summary>
    /// Registers <see cref="RevocationSweeper"/>, <paramref name="options"/>, the hosted <see cref="RevocationSweepLoop"/>
    /// (sweeps when the earliest lease is due, looks at least every <see cref="RevocationOptions.SweepInterval"/>), its
    /// <see cref="SweepWakeUp"/> as this process's <see cref="ILeaseDueSignal"/> (the stores resolve it, so a lease stored
    /// here wakes the loop early), and a Quartz scheduler (in-memory job store) that fires <see cref="RevocationConsistencyJob"/>
    /// every <see cref="RevocationOptions.ConsistencyInterval"/>; both stop with the host, interrupting the running work.
    /// The host must already register <c>IRevocationQueue</c>, <c>IRevocationSchedule</c>, <c>IKillSwitch</c>, <c>LeaseRevoker</c>, <c>BrokerOptions</c>,
    /// <see cref="TimeProvider"/> and logging. Which leases are due is the lease store's schedule, judged by the
    /// registered <see cref="TimeProvider"/>; the waiting runs on the system clock.
    /// </summary>
    /// <exception cref="InvalidOperationException">The options are invalid (all problems are listed).</exception>
    public static IServiceCollection AddJitBrokerRevocation(this IServiceCollection services, RevocationOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Invalid revocation options: " + string.Join(" ", problems));
        }

        // Replace, not TryAdd: the trigger below is built from this instance, so the sweeper must read the same one.
        services.Replace(ServiceDescriptor.Singleton(options));
        services.TryAddSingleton<RevocationSweeper>();
        services.TryAddSingleton<RevocationConsistency>();
        services.TryAddSingleton<SweepWakeUp>();
        services.TryAddSingleton<ILeaseDueSignal>(sp => sp.GetRequiredService<SweepWakeUp>());
        services.AddHostedService<RevocationSweepLoop>();

        services.AddQuartz(SchedulerName, quartz =>
        {
            // The cadence is wall-clock infrastructure. Without this Quartz would adopt a TimeProvider from the
            // container, and a host running a fake clock would never see the trigger fire.
            quartz.UseTimeProvider(TimeProvider.System);
            quartz.UseInMemoryStore(_ => { });
            quartz.UseDefaultThreadPool(1); // only the consistency pass: the sweep has its own loop (RevocationSweepLoop)
            quartz.ConfigureScheduler(scheduler =>
                scheduler.ShutdownJobInterruption = ShutdownJobInterruption.WhenWaitingForJobs);
            quartz.ScheduleJob<RevocationConsistencyJob>(
                trigger => trigger
                    .WithIdentity("revocation-consistency-trigger", "jitbroker")
                    .StartNow() // a pass at start-up covers whatever a replica that died left behind
                    .WithSchedule(SimpleScheduleBuilder.Create()
                        .WithInterval(options.ConsistencyInterval)
                        .RepeatForever()
                        .WithMisfireInstruction(SimpleTriggerMisfireInstruction.NowWithRemainingCount)),
                job => job
                    .WithIdentity(ConsistencyJobKey)
                    .DisallowConcurrentExecution());
        });

        // Registers Quartz's hosted service once (it starts every scheduler in the container, and a host that
        // adds its own is not given a second) and says how this scheduler stops: the running consistency pass is
        // interrupted (above) and waited for, within the host's shutdown token. Other schedulers keep their settings.
        services.AddQuartzHostedService(SchedulerName, hosted =>
        {
            hosted.WaitForJobsToComplete = true;
            hosted.AwaitApplicationStarted = true;
        });

        return services;
    }
}
