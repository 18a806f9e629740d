using JitBroker.Testing;
using System.Text.Json;
using JitBroker.Core;
using JitBroker.Vault.Issuers;
using JitBroker.Vault.Tests.Fakes;
using JitBroker.Vault.Tests.Infrastructure;
using NUnit.Framework;

namespace JitBroker.Vault.Tests;

public sealed class VaultTokenIssuerTests : VaultTestBase
{
    private static readonly Dictionary<string, string> ReadPolicy = new() { [IssuerParameterNames.VaultPolicies] = "task-read" };

    [Test]
    public async Task Issue_creates_a_child_token_with_the_documented_parameters_and_keeps_only_the_accessor()
    {
        var issuer = TokenIssuer(Session());
        var request = Request(ReadPolicy, TimeSpan.FromSeconds(300), taskId: "task 42/ä");

        var credential = await issuer.IssueAsync(request);

        var create = Vault.RequestsTo("auth/token/create").Single();
        Assert.Multiple(() =>
        {
            Assert.That(create.Method, Is.EqualTo("POST"));
            Assert.That(create.Header("X-Vault-Token"), Is.EqualTo(Vault.RootToken));
            Assert.That(create.Header("X-Vault-Request"), Is.EqualTo("true"));
        });
        using var body = JsonDocument.Parse(create.Body);
        var json = body.RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(json.GetProperty("policies").EnumerateArray().Select(p => p.GetString()), Is.EqualTo(new[] { "task-read" }));
            Assert.That(json.GetProperty("ttl").GetString(), Is.EqualTo("300s"));
            Assert.That(json.GetProperty("explicit_max_ttl").GetString(), Is.EqualTo("300s"));
            Assert.That(json.GetProperty("renewable").GetBoolean(), Is.False, "renewable must be sent as false: Vault's default is true");
            Assert.That(json.TryGetProperty("num_uses", out _), Is.False);
            Assert.That(json.GetProperty("type").GetString(), Is.EqualTo("service"));
            Assert.That(json.GetProperty("display_name").GetString(), Is.EqualTo("jitbroker-task-42"));
            Assert.That(json.GetProperty("meta").GetProperty("task_id").GetString(), Is.EqualTo("task 42/ä"));
            Assert.That(json.GetProperty("meta").GetProperty("agent_id").GetString(), Is.EqualTo(Agent.Id));
            Assert.That(json.GetProperty("meta").GetProperty("lease_id").GetString(), Is.EqualTo(request.LeaseId));
        });

        var minted = Vault.Tokens[credential.Secret];
        Assert.Multiple(() =>
        {
            Assert.That(credential.Kind, Is.EqualTo("vault-token"));
            Assert.That(credential.BackendHandle, Is.EqualTo(minted.Accessor));
            Assert.That(credential.BackendHandle, Is.Not.EqualTo(credential.Secret));
            Assert.That(minted.ParentId, Is.EqualTo(Vault.RootToken), "default: a child of the broker's token");
            Assert.That(credential.ExpiresAt - credential.IssuedAt, Is.EqualTo(TimeSpan.FromSeconds(300)));
            Assert.That(credential.IssuedAt, Is.EqualTo(Clock.GetUtcNow()));
            Assert.That(credential.ToString(), Does.Not.Contain(credential.Secret));
        });
    }

    [Test]
    public async Task A_template_role_selects_create_role_and_the_options_can_ask_for_orphans()
    {
        Vault.TokenRoles["ci"] = new FakeTokenRole(Orphan: true);
        var session = Session();
        var withRole = await TokenIssuer(session).IssueAsync(Request(new Dictionary<string, string> { [IssuerParameterNames.VaultRole] = "ci" }, TimeSpan.FromMinutes(5)));
        var orphanOptions = Options(o => o.CreateOrphanTokens = true);
        var orphan = await TokenIssuer(session, orphanOptions).IssueAsync(Request(ReadPolicy, TimeSpan.FromMinutes(5)));

        Assert.Multiple(() =>
        {
            Assert.That(Vault.RequestsTo("auth/token/create/ci"), Has.Count.EqualTo(1));
            Assert.That(Vault.Tokens[withRole.Secret].Orphan, Is.True);
            Assert.That(Vault.RequestsTo("auth/token/create-orphan"), Has.Count.EqualTo(1));
            Assert.That(Vault.Tokens[orphan.Secret].ParentId, Is.Null);
        });
    }

    [Test]
    public async Task Renewable_and_num_uses_come_from_the_template()
    {
        var parameters = new Dictionary<string, string>
        {
            [IssuerParameterNames.VaultPolicies] = "task-read, task-write",
            [IssuerParameterNames.VaultRenewable] = "true",
            [IssuerParameterNames.VaultNumUses] = "3",
        };

        var credential = await TokenIssuer(Session()).IssueAsync(Request(parameters, TimeSpan.FromMinutes(2)));

        var minted = Vault.Tokens[credential.Secret];
        Assert.That((minted.Renewable, minted.NumUses), Is.EqualTo((true, 3)));
        // no_default_policy: exactly the template's policies, without Vault's "default".
        Assert.That(minted.Policies, Is.EquivalentTo(new[] { "task-read", "task-write" }));
    }

    [Test]
    public async Task A_TTL_shortened_by_Vault_is_what_the_broker_reports()
    {
        Vault.TokenMountMaxTtl = 120;

        var credential = await TokenIssuer(Session()).IssueAsync(Request(ReadPolicy, TimeSpan.FromSeconds(300)));

        Assert.That(credential.ExpiresAt - credential.IssuedAt, Is.EqualTo(TimeSpan.FromSeconds(120)));
        Assert.That(Logs.All, Does.Contain("exceeded the effective max_ttl"), "Vault's warning reaches the operator");
    }

    [Test]
    public async Task Revoke_uses_the_accessor_and_a_token_Vault_no_longer_knows_is_already_gone()
    {
        var issuer = TokenIssuer(Session());
        var request = Request(ReadPolicy, TimeSpan.FromMinutes(5));
        var credential = await issuer.IssueAsync(request);
        var lease = IssuedLeases.For(request, credential);

        var first = await issuer.RevokeAsync(lease);
        var second = await issuer.RevokeAsync(lease);

        Assert.Multiple(() =>
        {
            Assert.That(first, Is.EqualTo(RevocationResult.Revoked));
            Assert.That(Vault.Tokens[credential.Secret].Revoked, Is.True);
            Assert.That(second, Is.EqualTo(RevocationResult.AlreadyGone), "400 \"invalid accessor\" means Vault no longer knows it");
            Assert.That(Vault.RequestsTo("auth/token/revoke-accessor").Select(r => r.Body), Has.All.Contains(credential.BackendHandle));
        });
    }

    [TestCase(503, "Vault is sealed")]
    [TestCase(500, "internal error")]
    [TestCase(429, "rate limit quota exceeded")]
    [TestCase(404, "no handler for route")]
    [TestCase(403, "permission denied")]
    public async Task Vault_failing_at_revoke_is_a_safe_failed_result_never_done(int status, string error)
    {
        var issuer = TokenIssuer(Session());
        var request = Request(ReadPolicy, TimeSpan.FromMinutes(5));
        var credential = await issuer.IssueAsync(request);
        // 403 twice: the session logs in again and retries once.
        Vault.Enqueue(new Fault("auth/token/revoke-accessor", FaultKind.Status, status, [error]));
        Vault.Enqueue(new Fault("auth/token/revoke-accessor", FaultKind.Status, status, [error]));

        var result = await issuer.RevokeAsync(IssuedLeases.For(request, credential));

        Assert.Multiple(() =>
        {
            Assert.That(result.Status, Is.EqualTo(RevocationStatus.Failed));
            Assert.That(result.Error, Does.Contain(status.ToString(System.Globalization.CultureInfo.InvariantCulture)).And.Contain("auth/token/revoke-accessor"));
            Assert.That(result.Error, Does.Not.Contain(credential.Secret).And.Not.Contain(Vault.RootToken).And.Not.Contain(credential.BackendHandle));
            Assert.That(Vault.Tokens[credential.Secret].Revoked, Is.False);
        });
    }

    [Test]
    public async Task Vault_refusing_the_broker_is_an_operator_actionable_permission_error_after_one_relogin()
    {
        Vault.DeniedPaths.Add("auth/token/create");

        var error = Assert.ThrowsAsync<BrokerException>(async () => await TokenIssuer(Session()).IssueAsync(Request(ReadPolicy, TimeSpan.FromMinutes(5))));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Failure, Is.EqualTo(BrokerFailure.FailedPrecondition));
            Assert.That(error.Reason, Is.EqualTo(Reasons.Vault.PermissionDenied));
            Assert.That(error.Message, Does.Contain("'auth/token/create'").And.Not.Contain(Vault.RootToken));
            Assert.That(Vault.RequestsTo("auth/token/create"), Has.Count.EqualTo(2), "retried once after logging in again");
            Assert.That(Vault.RequestsTo("auth/token/lookup-self"), Has.Count.EqualTo(2), "the token file was read and looked up again");
        });
    }

    [Test]
    public async Task A_batch_token_role_is_refused_and_the_token_undone()
    {
        Vault.TokenRoles["batchy"] = new FakeTokenRole(TokenType: "batch");

        var error = Assert.ThrowsAsync<BrokerException>(async () =>
            await TokenIssuer(Session()).IssueAsync(Request(new Dictionary<string, string> { [IssuerParameterNames.VaultRole] = "batchy" }, TimeSpan.FromMinutes(5))));

        Assert.That(error!.Reason, Is.EqualTo(Reasons.Vault.TokenNotRevocable));
        Assert.That(Vault.Tokens.Values.Where(t => t.Id.StartsWith("hvb.", StringComparison.Ordinal)).Select(t => t.Revoked), Is.EqualTo(new[] { true }));
        await Task.CompletedTask;
    }

    [TestCase("policies", "", "need 'policies'")]
    [TestCase("policies", "root", "'root'")]
    [TestCase("policies", "a b", "not a valid policy name")]
    [TestCase("role", "../sys", "not a valid token role")]
    [TestCase("num_uses", "0", "num_uses")]
    [TestCase("renewable", "yes", "renewable")]
    [TestCase("path", "database/creds/x", "do not take")]
    public void Bad_templates_are_rejected_before_any_call_to_Vault(string name, string value, string expected)
    {
        var parameters = new Dictionary<string, string> { [IssuerParameterNames.VaultPolicies] = "task-read", [name] = value };

        var error = Assert.ThrowsAsync<BrokerException>(async () => await TokenIssuer(Session()).IssueAsync(Request(parameters, TimeSpan.FromMinutes(5))));

        Assert.That(error!.Reason, Is.EqualTo(Reasons.Vault.TemplateInvalid));
        Assert.That(error.Message, Does.Contain(expected));
        Assert.That(Vault.Requests, Is.Empty);
    }

    [Test]
    public async Task Renewal_goes_through_renew_accessor_and_reports_what_Vault_granted()
    {
        var issuer = TokenIssuer(Session());
        var parameters = new Dictionary<string, string> { [IssuerParameterNames.VaultPolicies] = "task-read", [IssuerParameterNames.VaultRenewable] = "true" };
        var request = Request(parameters, TimeSpan.FromSeconds(300));
        var credential = await issuer.IssueAsync(request);
        Clock.Advance(TimeSpan.FromSeconds(100));

        var renewed = await issuer.RenewAsync(IssuedLeases.For(request, credential), Agent, Clock.GetUtcNow().AddSeconds(600));

        using var body = JsonDocument.Parse(Vault.RequestsTo("auth/token/renew-accessor").Single().Body);
        Assert.Multiple(() =>
        {
            Assert.That(body.RootElement.GetProperty("accessor").GetString(), Is.EqualTo(credential.BackendHandle));
            Assert.That(body.RootElement.GetProperty("increment").GetString(), Is.EqualTo("600s"));
            Assert.That(renewed.ExpiresAt, Is.EqualTo(Clock.GetUtcNow().AddSeconds(300)), "explicit_max_ttl caps it");
            Assert.That(renewed.NewSecret, Is.Null);
        });
    }

    [Test]
    public async Task Renewing_a_non_renewable_token_is_a_clear_precondition_failure()
    {
        var issuer = TokenIssuer(Session());
        var request = Request(ReadPolicy, TimeSpan.FromSeconds(300));
        var credential = await issuer.IssueAsync(request);

        var error = Assert.ThrowsAsync<BrokerException>(async () => await issuer.RenewAsync(IssuedLeases.For(request, credential), Agent, Clock.GetUtcNow().AddSeconds(60)));

        Assert.That((error!.Failure, error.Reason), Is.EqualTo((BrokerFailure.FailedPrecondition, Reasons.Vault.NotRenewable)));
    }

    [Test]
    public void Long_agent_ids_are_bounded_in_metadata_but_stay_correlatable()
    {
        var longId = "spiffe://example.org/" + new string('a', 2000);

        var bounded = VaultTokenTemplate.BoundMetaValue(longId);

        Assert.That(bounded, Has.Length.EqualTo(512));
        Assert.That(bounded, Does.StartWith("spiffe://example.org/aaa").And.EndWith(Fingerprints.Of(longId)));
        Assert.That(VaultTokenTemplate.BoundMetaValue("short"), Is.EqualTo("short"));
    }
}
