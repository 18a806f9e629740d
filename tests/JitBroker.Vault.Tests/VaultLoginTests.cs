using System.Text.Json;
using JitBroker.Core;
using JitBroker.Vault.Auth;
using JitBroker.Vault.Tests.Fakes;
using JitBroker.Vault.Tests.Infrastructure;
using NUnit.Framework;

namespace JitBroker.Vault.Tests;

/// <summary>The broker's own Vault login through each method, and keeping its token alive.</summary>
public sealed class VaultLoginTests : VaultTestBase
{
    private const string LookupSelf = "auth/token/lookup-self";

    private VaultOptions AppRoleOptions() => Options(o => o.Auth = new VaultAuthOptions
    {
        Method = VaultAuthMethod.AppRole,
        RoleIdPath = WriteFile("role-id", Vault.AppRoleId),
        SecretIdPath = WriteFile("secret-id", Vault.AppRoleSecretId),
    });

    [Test]
    public async Task Token_file_login_looks_the_token_up_and_uses_it()
    {
        var session = Session();

        await session.SendAsync(HttpMethod.Get, LookupSelf, TimeSpan.Zero);

        Assert.That(Vault.RequestsTo(LookupSelf).Select(r => r.Header("X-Vault-Token")), Has.All.EqualTo(Vault.RootToken));
        Assert.That(session.TokenExpiresAt, Is.Null, "a root token never expires");
    }

    [Test]
    public async Task A_rewritten_token_file_is_read_again_before_the_next_call()
    {
        var options = Options();
        var session = Session(options);
        await session.SendAsync(HttpMethod.Get, LookupSelf, TimeSpan.Zero);
        var next = new FakeToken { Id = FakeIds.Token(), Accessor = FakeIds.Random(24), Policies = ["jitbroker"], Ttl = 3600, Renewable = true, Orphan = true };
        Vault.Tokens[next.Id] = next;
        File.WriteAllText(options.Auth.TokenPath!, next.Id + "   \n"); // different length: changes even within one timestamp tick

        await session.SendAsync(HttpMethod.Get, LookupSelf, TimeSpan.Zero);

        Assert.That(Vault.Requests.Last().Header("X-Vault-Token"), Is.EqualTo(next.Id));
        Assert.That(session.TokenExpiresAt, Is.EqualTo(Clock.GetUtcNow().AddSeconds(3600)));
        Assert.That(session.LoginCount, Is.EqualTo(2));
    }

    [Test]
    public async Task AppRole_login_sends_role_id_and_secret_id_from_their_files()
    {
        var session = Session(AppRoleOptions());

        await session.SendAsync(HttpMethod.Get, LookupSelf, TimeSpan.Zero);

        var login = Vault.RequestsTo("auth/approle/login").Single();
        using var body = JsonDocument.Parse(login.Body);
        Assert.Multiple(() =>
        {
            Assert.That(body.RootElement.GetProperty("role_id").GetString(), Is.EqualTo(Vault.AppRoleId));
            Assert.That(body.RootElement.GetProperty("secret_id").GetString(), Is.EqualTo(Vault.AppRoleSecretId));
            Assert.That(login.Header("X-Vault-Token"), Is.Null, "login endpoints are unauthenticated");
            Assert.That(Vault.Tokens.ContainsKey(Vault.RequestsTo(LookupSelf).Single().Header("X-Vault-Token")!), Is.True);
            Assert.That(session.TokenExpiresAt, Is.EqualTo(Clock.GetUtcNow().AddSeconds(Vault.LoginTokenTtl)));
        });
    }

    [Test]
    public void A_refused_AppRole_login_is_a_login_failure_the_operator_can_act_on()
    {
        var options = AppRoleOptions();
        Vault.AppRoleSecretId = "rotated";
        var issuer = TokenIssuer(Session(options), options);

        var error = Assert.ThrowsAsync<BrokerException>(async () => await issuer.IssueAsync(
            Request(new Dictionary<string, string> { [IssuerParameterNames.VaultPolicies] = "task-read" }, TimeSpan.FromMinutes(5))));

        Assert.That((error!.Failure, error.Reason), Is.EqualTo((BrokerFailure.FailedPrecondition, Reasons.Vault.LoginFailed)));
        Assert.That(error.InnerException!.Message, Does.Contain("invalid role or secret ID").And.Contain("auth/approle/login"));
    }

    [TestCase(VaultAuthMethod.Kubernetes, "auth/kubernetes/login")]
    [TestCase(VaultAuthMethod.Jwt, "auth/jwt/login")]
    public async Task Service_account_logins_re_read_the_rotating_token_file_at_every_login(VaultAuthMethod method, string loginPath)
    {
        Vault.AcceptedJwts.Add("sa-jwt-1");
        var options = Options(o => o.Auth = new VaultAuthOptions
        {
            Method = method, Role = "jitbroker", ServiceAccountTokenPath = WriteFile("sa-token", "sa-jwt-1"),
        });
        var session = Session(options);
        await session.SendAsync(HttpMethod.Get, LookupSelf, TimeSpan.Zero);

        // The kubelet rotates the projected token; Vault loses the broker's token (revoked by an operator, say).
        File.WriteAllText(options.Auth.ServiceAccountTokenPath!, "sa-jwt-2");
        Vault.AcceptedJwts.Clear();
        Vault.AcceptedJwts.Add("sa-jwt-2");
        Vault.Revoke(Vault.Tokens[Vault.RequestsTo(LookupSelf).Single().Header("X-Vault-Token")!]);
        await session.SendAsync(HttpMethod.Get, LookupSelf, TimeSpan.Zero);

        var logins = Vault.RequestsTo(loginPath).Select(r => JsonDocument.Parse(r.Body).RootElement).ToList();
        Assert.That(logins.Select(l => l.GetProperty("jwt").GetString()), Is.EqualTo(new[] { "sa-jwt-1", "sa-jwt-2" }));
        Assert.That(logins.Select(l => l.GetProperty("role").GetString()), Has.All.EqualTo("jitbroker"));
        Assert.That(session.LoginCount, Is.EqualTo(2));
    }

    [Test]
    public async Task A_403_for_a_lost_token_triggers_one_relogin_and_the_call_is_retried()
    {
        var session = Session(AppRoleOptions());
        await session.SendAsync(HttpMethod.Get, LookupSelf, TimeSpan.Zero);
        var first = Vault.Tokens[Vault.RequestsTo(LookupSelf).Single().Header("X-Vault-Token")!];
        Vault.Revoke(first);

        var reply = await session.SendAsync(HttpMethod.Get, LookupSelf, TimeSpan.Zero);

        var tokensUsed = Vault.RequestsTo(LookupSelf).Select(r => r.Header("X-Vault-Token")).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(reply.StatusCode, Is.EqualTo(200));
            Assert.That(tokensUsed, Has.Count.EqualTo(3));
            Assert.That(tokensUsed[1], Is.EqualTo(first.Id), "refused once with the lost token");
            Assert.That(tokensUsed[2], Is.Not.EqualTo(first.Id));
            Assert.That(session.LoginCount, Is.EqualTo(2));
        });
    }

    [Test]
    public async Task The_token_is_renewed_at_two_thirds_of_its_TTL_on_the_clock()
    {
        Vault.LoginTokenTtl = 300;
        var session = Session(AppRoleOptions());
        await session.SendAsync(HttpMethod.Get, LookupSelf, TimeSpan.Zero);

        Clock.Advance(TimeSpan.FromSeconds(199));
        await session.BackgroundWork;
        var beforeDue = Vault.RequestsTo("auth/token/renew-self").Count;
        Clock.Advance(TimeSpan.FromSeconds(2));
        await session.BackgroundWork;

        var renew = Vault.RequestsTo("auth/token/renew-self");
        Assert.Multiple(() =>
        {
            Assert.That(beforeDue, Is.Zero);
            Assert.That(renew, Has.Count.EqualTo(1));
            Assert.That(JsonDocument.Parse(renew[0].Body).RootElement.GetProperty("increment").GetString(), Is.EqualTo("300s"));
            Assert.That(session.TokenExpiresAt, Is.EqualTo(Clock.GetUtcNow().AddSeconds(300)));
            Assert.That(session.LoginCount, Is.EqualTo(1));
        });

        // And again, from the renewed expiry.
        Clock.Advance(TimeSpan.FromSeconds(201));
        await session.BackgroundWork;
        Assert.That(Vault.RequestsTo("auth/token/renew-self"), Has.Count.EqualTo(2));
    }

    [Test]
    public async Task A_refused_renewal_or_a_token_at_its_max_TTL_leads_to_a_new_login()
    {
        Vault.LoginTokenTtl = 300;
        var session = Session(AppRoleOptions());
        await session.SendAsync(HttpMethod.Get, LookupSelf, TimeSpan.Zero);
        Vault.Revoke(Vault.Tokens[Vault.RequestsTo(LookupSelf).Single().Header("X-Vault-Token")!]);

        Clock.Advance(TimeSpan.FromSeconds(201));
        await session.BackgroundWork;
        Assert.That(session.LoginCount, Is.EqualTo(2), "renew-self refused (403): logged in again");

        Vault.LoginTokenMaxTtl = 100; // next token's renewals are capped far below the 300s asked for
        Vault.Revoke(Vault.Tokens.Values.Single(t => !t.Revoked && t.Id != Vault.RootToken));
        Clock.Advance(TimeSpan.FromSeconds(201));
        await session.BackgroundWork;
        Assert.That(session.LoginCount, Is.EqualTo(3));
        Clock.Advance(TimeSpan.FromSeconds(201));
        await session.BackgroundWork;
        Assert.That(session.LoginCount, Is.EqualTo(4), "a renewal capped by the max TTL means: log in again now");
    }

    [Test]
    public async Task Vault_down_during_a_background_renewal_keeps_the_token_and_tries_again()
    {
        Vault.LoginTokenTtl = 300;
        var session = Session(AppRoleOptions());
        await session.SendAsync(HttpMethod.Get, LookupSelf, TimeSpan.Zero);
        Vault.Enqueue(new Fault("auth/token/renew-self", FaultKind.Status, 503, ["Vault is sealed"]));

        Clock.Advance(TimeSpan.FromSeconds(201));
        await session.BackgroundWork;
        Clock.Advance(TimeSpan.FromSeconds(10));
        await session.BackgroundWork;

        Assert.That(Vault.RequestsTo("auth/token/renew-self"), Has.Count.EqualTo(2));
        Assert.That(session.LoginCount, Is.EqualTo(1));
        Assert.That(Logs.All, Does.Contain("VaultBackgroundRefreshFailed"));
    }

    [Test]
    public async Task A_child_credential_longer_than_the_broker_token_renews_that_token_first()
    {
        Vault.LoginTokenTtl = 120;
        var options = AppRoleOptions();
        var session = Session(options);

        var credential = await TokenIssuer(session, options).IssueAsync(
            Request(new Dictionary<string, string> { [IssuerParameterNames.VaultPolicies] = "task-read" }, TimeSpan.FromSeconds(600)));

        var order = Vault.Requests.Select(r => r.Path).ToList();
        Assert.That(order, Is.EqualTo(new[] { "auth/approle/login", "auth/token/renew-self", "auth/token/create" }));
        Assert.That(credential.ExpiresAt - credential.IssuedAt, Is.EqualTo(TimeSpan.FromSeconds(600)));
    }

    [Test]
    public async Task A_child_that_would_outlive_an_unrenewable_parent_reports_the_parents_expiry()
    {
        Vault.LoginTokenTtl = 120;
        Vault.LoginTokenMaxTtl = 120;
        var options = AppRoleOptions();

        var credential = await TokenIssuer(Session(options), options).IssueAsync(
            Request(new Dictionary<string, string> { [IssuerParameterNames.VaultPolicies] = "task-read" }, TimeSpan.FromSeconds(600)));

        Assert.That(credential.ExpiresAt - credential.IssuedAt, Is.EqualTo(TimeSpan.FromSeconds(120)), "Vault revokes children with their parent");
        Assert.That(Vault.RequestsTo("auth/approle/login"), Has.Count.EqualTo(1), "a fresh login would not live longer: none is attempted");
    }

    [Test]
    public void A_missing_credential_file_names_the_file_not_its_content()
    {
        var options = Options(o => o.Auth = new VaultAuthOptions { Method = VaultAuthMethod.Token, TokenPath = Path.Combine(Dir, "absent") });

        var error = Assert.ThrowsAsync<VaultException>(async () => await Session(options).SendAsync(HttpMethod.Get, LookupSelf, TimeSpan.Zero));

        Assert.That(error!.Kind, Is.EqualTo(VaultErrorKind.LoginFailed));
        Assert.That(error.Message, Does.Contain("absent").And.Contain("does not exist"));
        Assert.That(Vault.Requests, Is.Empty);
    }
}
