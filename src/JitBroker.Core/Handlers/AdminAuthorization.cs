namespace JitBroker.Core.Handlers;

/// <summary>Who may use the admin API: attested principals matching one of <see cref="AdminOptions.Principals"/>. Agents never.</summary>
public sealed class AdminAuthorization
{

    private readonly AttestorRegistry _attestors;
    private readonly GlobPattern[] _admins;

    public AdminAuthorization(AttestorRegistry attestors, AdminOptions options)
    {
        _attestors = attestors;
        _admins = [.. options.Principals.Select(GlobPattern.Parse)];
    }

    /// <summary>Attests the caller and requires an admin principal; PermissionDenied for everyone else.</summary>
    public async Task<WorkloadIdentity> AuthorizeAsync(AttestationEvidence evidence, CancellationToken cancellationToken = default)
    {
        var caller = await _attestors.AttestAsync(evidence, cancellationToken).ConfigureAwait(false);
        return _admins.Any(a => a.IsMatch(caller.Id))
            ? caller
            : throw new BrokerException(BrokerFailure.PermissionDenied, Reasons.Admin.NotAnAdmin, "The admin API is for configured operators only.");
    }
}
