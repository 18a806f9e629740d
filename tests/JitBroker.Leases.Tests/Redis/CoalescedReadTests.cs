using JitBroker.Leases.Redis;
using NUnit.Framework;

namespace JitBroker.Leases.Tests.Redis;

/// <summary>
/// The kill switch's version read is shared among concurrent checks (<see cref="CoalescedRead{TReply, T}"/>). What must hold:
/// no caller ever gets a value read before it asked, and concurrent callers share reads.
/// </summary>
public sealed class CoalescedReadTests
{
    /// <summary>A read source whose reads answer only when the test releases them, numbered in the order sent.</summary>
    private sealed class GatedSource
    {
        private readonly Lock _gate = new();
        private readonly List<TaskCompletionSource<int>> _reads = [];

        public int Sent { get { lock (_gate) { return _reads.Count; } } }

        public ValueTask<int> Read()
        {
            lock (_gate)
            {
                var read = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
                _reads.Add(read);
                return new ValueTask<int>(read.Task);
            }
        }

        public void Answer(int index, int value) { lock (_gate) { _reads[index].SetResult(value); } }

        public void Fail(int index, Exception ex) { lock (_gate) { _reads[index].SetException(ex); } }
    }

    [Test]
    public async Task A_caller_that_arrives_while_a_read_is_on_the_wire_gets_the_next_read_not_that_one()
    {
        var source = new GatedSource();
        var reads = new CoalescedRead<int, int>(source.Read, static v => v);

        var first = reads.ReadAsync(CancellationToken.None);
        var late = Enumerable.Range(0, 50).Select(_ => reads.ReadAsync(CancellationToken.None)).ToList();
        Assert.That(source.Sent, Is.EqualTo(1), "the late callers must not send reads of their own while one is on the wire");

        source.Answer(0, 1);
        Assert.That(await first, Is.EqualTo(1));
        await WaitUntilAsync(() => source.Sent == 2);
        Assert.That(late.Any(t => t.IsCompleted), Is.False, "a caller that arrived after read 0 was sent must not get read 0's value");

        source.Answer(1, 2);
        Assert.That(await Task.WhenAll(late), Is.All.EqualTo(2));
        Assert.That(source.Sent, Is.EqualTo(2), "51 callers, 2 reads");
    }

    [Test]
    public async Task A_caller_after_the_last_read_answered_sends_a_new_one()
    {
        var source = new GatedSource();
        var reads = new CoalescedRead<int, int>(source.Read, static v => v);

        var first = reads.ReadAsync(CancellationToken.None);
        source.Answer(0, 7);
        Assert.That(await first, Is.EqualTo(7));
        await Task.Delay(10);

        var second = reads.ReadAsync(CancellationToken.None);
        Assert.That(source.Sent, Is.EqualTo(2), "nobody was waiting: the next caller must send at once");
        source.Answer(1, 8);
        Assert.That(await second, Is.EqualTo(8));
    }

    [Test]
    public async Task A_failed_read_fails_every_caller_that_shared_it_and_the_next_caller_reads_again()
    {
        var source = new GatedSource();
        var reads = new CoalescedRead<int, int>(source.Read, static v => v);

        var first = reads.ReadAsync(CancellationToken.None);
        var shared = Enumerable.Range(0, 3).Select(_ => reads.ReadAsync(CancellationToken.None)).ToList();
        source.Fail(0, new TimeoutException("redis"));
        Assert.ThrowsAsync<TimeoutException>(async () => await first);
        await WaitUntilAsync(() => source.Sent == 2);
        source.Fail(1, new TimeoutException("redis again"));
        foreach (var caller in shared)
        {
            Assert.ThrowsAsync<TimeoutException>(async () => await caller);
        }

        await Task.Delay(10);
        var after = reads.ReadAsync(CancellationToken.None);
        await WaitUntilAsync(() => source.Sent == 3);
        source.Answer(2, 5);
        Assert.That(await after, Is.EqualTo(5));
    }

    [Test]
    public async Task A_caller_that_gives_up_does_not_cancel_the_read_for_the_others()
    {
        var source = new GatedSource();
        var reads = new CoalescedRead<int, int>(source.Read, static v => v);
        using var impatient = new CancellationTokenSource();

        var first = reads.ReadAsync(CancellationToken.None);
        var cancelled = reads.ReadAsync(impatient.Token);
        var patient = reads.ReadAsync(CancellationToken.None);
        await impatient.CancelAsync();
        Assert.ThrowsAsync<TaskCanceledException>(async () => await cancelled);

        source.Answer(0, 1);
        await WaitUntilAsync(() => source.Sent == 2);
        source.Answer(1, 2);
        Assert.That(await first, Is.EqualTo(1));
        Assert.That(await patient, Is.EqualTo(2));
    }

    [Test]
    public async Task The_reply_is_turned_into_the_value_once_per_read_and_a_failure_to_do_so_fails_that_reads_callers()
    {
        var source = new GatedSource();
        var conversions = 0;
        var reads = new CoalescedRead<int, string>(source.Read, reply =>
        {
            Interlocked.Increment(ref conversions);
            return reply >= 0 ? "v" + reply : throw new FormatException("not a version");
        });

        var first = reads.ReadAsync(CancellationToken.None);
        var shared = Enumerable.Range(0, 20).Select(_ => reads.ReadAsync(CancellationToken.None)).ToList();
        source.Answer(0, 1);
        Assert.That(await first, Is.EqualTo("v1"));
        await WaitUntilAsync(() => source.Sent == 2);
        source.Answer(1, -1);
        foreach (var caller in shared)
        {
            Assert.ThrowsAsync<FormatException>(async () => await caller);
        }

        Assert.That(conversions, Is.EqualTo(2), "21 callers, 2 reads, 2 conversions");
        await Task.Delay(10);
        var after = reads.ReadAsync(CancellationToken.None);
        await WaitUntilAsync(() => source.Sent == 3);
        source.Answer(2, 3);
        Assert.That(await after, Is.EqualTo("v3"));
    }

    [Test]
    public async Task A_read_that_throws_before_it_is_sent_fails_its_callers_and_the_next_caller_reads_again()
    {
        var calls = 0;
        var reads = new CoalescedRead<int, int>(() => ++calls == 1 ? throw new InvalidOperationException("no connection") : ValueTask.FromResult(calls),
            static v => v);

        Assert.ThrowsAsync<InvalidOperationException>(async () => await reads.ReadAsync(CancellationToken.None));
        // A read left "on the wire" by the throw would leave this caller waiting for a read nobody sends.
        Assert.That(await reads.ReadAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)), Is.EqualTo(2));
    }

    [Test]
    public async Task Reads_that_answer_at_once_one_after_another_all_answer_in_order()
    {
        var calls = 0;
        var reads = new CoalescedRead<int, int>(() => ValueTask.FromResult(Interlocked.Increment(ref calls)), static v => v);
        for (var i = 1; i <= 10_000; i++)
        {
            Assert.That(await reads.ReadAsync(CancellationToken.None), Is.EqualTo(i));
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!condition())
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "timed out waiting");
            await Task.Delay(1);
        }
    }
}
