using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Quartz;

namespace JitBroker.Revocation;

/// <summary>Registers Quartz-driven expiry revocation.</summary>
public static class RevocationServiceCollectionExtensions
{
    /// <summary>Name of the Quartz scheduler revocation runs on, kept apart from any scheduler the host adds.</summary>
    public const string SchedulerName = "jitbroker-revocation";

    /// <summary>Key of the sweep job in <see cref="SchedulerName"/>.</summary>
    public static readonly JobKey SweepJobKey = new("revocation-sweep", "jitbroker");

    /// <summary>Key of the consistency job (orphaned delegations, leases of blocked agents) in <see cref="SchedulerName"/>.</summary>
    public static readonly JobKey ConsistencyJobKey = new("revocation-consistency", "jitbroker");

    /// <summary>
    /// Registers <see cref="RevocationSweeper"/>, <paramref name="options"/>, and a Quartz scheduler (in-memory
    /// job store) that fires <see cref="RevocationSweepJob"/> every <see cref="RevocationOptions.SweepInterval"/>,
    /// plus the hosted service that starts it with the host and, on stop, interrupts and waits for the running
    /// sweep. The host must already register <c>IRevocationQueue</c>, <c>IRevocationSchedule</c>, <c>IKillSwitch</c>, <c>LeaseRevoker</c>, <c>BrokerOptions</c>,
    /// <see cref="TimeProvider"/> and logging. Only the sweep cadence lives in Quartz: which leases are due is
    /// the lease store's schedule, judged by the registered <see cref="TimeProvider"/>.
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
        services.TryAddSingleton<Core.RevocationConsistency>();

        services.AddQuartz(SchedulerName, quartz =>
        {
            // The cadence is wall-clock infrastructure. Without this Quartz would adopt a TimeProvider from the
            // container, and a host running a fake clock would never see the trigger fire.
            quartz.UseTimeProvider(TimeProvider.System);
            quartz.UseInMemoryStore(_ => { });
            quartz.UseDefaultThreadPool(2); // the sweep and the consistency pass never wait for each other
            quartz.ConfigureScheduler(scheduler =>
                scheduler.ShutdownJobInterruption = ShutdownJobInterruption.WhenWaitingForJobs);
            quartz.ScheduleJob<RevocationSweepJob>(
                trigger => trigger
                    .WithIdentity("revocation-sweep-trigger", "jitbroker")
                    .StartNow()
                    .WithSchedule(SimpleScheduleBuilder.Create()
                        .WithInterval(options.SweepInterval)
                        .RepeatForever()
                        // Each sweep drains the whole due backlog, so after a stall one sweep now is worth
                        // every missed firing: fire once, then carry on at the interval.
                        .WithMisfireInstruction(SimpleTriggerMisfireInstruction.NowWithExistingCount)),
                job => job
                    .WithIdentity(SweepJobKey)
                    .DisallowConcurrentExecution());
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
        // adds its own is not given a second) and says how this scheduler stops: the running sweep is
        // interrupted (above) and waited for, within the host's shutdown token. Other schedulers keep their settings.
        services.AddQuartzHostedService(SchedulerName, hosted =>
        {
            hosted.WaitForJobsToComplete = true;
            hosted.AwaitApplicationStarted = true;
        });

        return services;
    }
}
