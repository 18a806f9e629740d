using System.Text.Json;

namespace JitBroker.Leases.Redis;

/// <summary>JSON for the few records stored whole (kill-switch blocks, approvals): human-paced and small, so readability wins over size.</summary>
internal static class StoreJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.General);
}
