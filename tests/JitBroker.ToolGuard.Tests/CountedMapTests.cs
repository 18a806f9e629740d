using JitBroker.ToolGuard;
using NUnit.Framework;

namespace JitBroker.ToolGuard.Tests;

/// <summary>The tool's bounded tables trust <see cref="CountedMap{TValue}.Count"/> for their bound: it must equal the entries held.</summary>
public sealed class CountedMapTests
{
    [Test]
    public void Count_follows_adds_replacements_and_removals()
    {
        var map = new CountedMap<int>();
        Assert.That(map.TryAdd("a", 1), Is.True);
        Assert.That(map.TryAdd("a", 2), Is.False, "present: not added again");
        map.Set("a", 3);
        map.Set("b", 4);
        Assert.That((map.Count, map.TryGetValue("a", out var a), a), Is.EqualTo((2, true, 3)));

        map.RemoveWhere(v => v > 3);
        Assert.That((map.Count, map.TryGetValue("b", out _)), Is.EqualTo((1, false)));
        map.Set("c", 0);
        map.RemoveLeast(v => v);
        Assert.That((map.Count, map.TryGetValue("c", out _), map.TryGetValue("a", out _)), Is.EqualTo((1, false, true)));
    }

    [Test]
    public async Task Count_is_exact_after_concurrent_adds_sets_and_removals()
    {
        var map = new CountedMap<int>();
        var keys = Enumerable.Range(0, 2_000).Select(i => "k" + i).ToArray();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(() =>
        {
            var random = new Random(worker);
            for (var i = 0; i < 50_000; i++)
            {
                var key = keys[random.Next(keys.Length)];
                switch (random.Next(4))
                {
                    case 0: map.TryAdd(key, i); break;
                    case 1: map.Set(key, i); break;
                    case 2: map.RemoveWhere(v => v == i); break;
                    default: map.RemoveLeast(v => v); break;
                }
            }
        })));

        var held = keys.Count(k => map.TryGetValue(k, out _));
        Assert.That(map.Count, Is.EqualTo(held));
    }
}
