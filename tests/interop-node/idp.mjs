// A real OpenID provider for the console's browser tests: npm's oidc-provider (an independent, certified
// implementation), configured and nothing else. Started by tests/JitBroker.Console.Tests/InBrowser/IdentityProvider.cs:
//   node idp.mjs --redirect https://127.0.0.1:<adminport>/console/signin-oidc [--client-id jitbroker-console]
//                [--client-secret-env IDP_CLIENT_SECRET]
// It listens on a free loopback port of its own choosing, prints one line `ready <issuer>` and serves until stdin
// closes (so a test that dies takes the provider with it). Sign-in uses the stock development forms (login name, any
// password); consent is pre-granted for the one client, as an organisation's IdP does for a first-party app.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    redirect: { type: 'string' },
    'client-id': { type: 'string', default: 'jitbroker-console' },
    // The secret's name in the environment, never the secret itself on a command line.
    'client-secret-env': { type: 'string' },
  },
});
if (!args.redirect) {
  console.error('usage: node idp.mjs --redirect <uri> [--client-id id] [--client-secret-env NAME]');
  process.exit(2);
}
const clientSecret = args['client-secret-env'] ? process.env[args['client-secret-env']] : undefined;

// The people the tests sign in as. `owen` is an approver and the accountable owner of the approval rule in the tests'
// policy (owner: owen@corp.example), so approving that rule's requests is self-approval.
const people = {
  alice: { email: 'alice@corp.example', name: 'Alice Approver', groups: ['approvers'] },
  olga: { email: 'olga@corp.example', name: 'Olga Operator', groups: ['operators'] },
  mallory: { email: 'mallory@corp.example', name: 'Mallory Nobody', groups: [] },
  owen: { email: 'owen@corp.example', name: 'Owen Owner', groups: ['approvers'] },
};

const scopes = ['openid', 'profile', 'email', 'groups'];
const claims = { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'], groups: ['groups'] };

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: args['client-id'],
    ...(clientSecret ? { client_secret: clientSecret, token_endpoint_auth_method: 'client_secret_post' } : { token_endpoint_auth_method: 'none' }),
    redirect_uris: [args.redirect],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    require_auth_time: true, // auth_time in every ID token: the console's "recent sign-in" check reads it
  }],
  pkce: { required: () => true },
  scopes,
  claims,
  // The claims in the ID token as well as at userinfo, so a relying party that reads either sees the same person.
  conformIdTokenClaims: false,
  findAccount: async (_ctx, id) => {
    const person = people[id];
    if (!person) {
      return undefined;
    }
    return {
      accountId: id,
      claims: async () => ({ sub: id, email: person.email, email_verified: true, name: person.name, groups: person.groups }),
    };
  },
  // Consent is implied for the console (a first-party app); login is still the stock interactive form.
  loadExistingGrant: async (ctx) => {
    const existing = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (existing) {
      return ctx.oidc.provider.Grant.find(existing);
    }
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(scopes.join(' '));
    grant.addOIDCClaims(Object.values(claims).flat());
    await grant.save();
    return grant;
  },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
});
provider.on('server_error', (_ctx, error) => console.error('idp server_error', error));
server.on('request', provider.callback());

console.log(`ready ${issuer}`);
process.stdin.resume();
const stop = () => {
  server.closeAllConnections();
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
