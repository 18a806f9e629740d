// Drives JitBroker's OAuth 2 door with oauth4webapi (a strict, independent OAuth client) and reports what it saw.
// Usage: node oauth.mjs < config.json, where config = { issuer, devKeyPath, devKeyId, svids: { name: JWT-SVID } }
// (the tokens come on stdin, never on a command line). Prints one JSON object: scenario name -> observed result;
// tests/JitBroker.Server.Tests/OAuthNodeInteropTests.cs asserts on it. A step that throws records its error and
// the others still run, so one broken step fails one test, not all of them.
import * as oauth from 'oauth4webapi';
import { readFileSync } from 'node:fs';

const config = JSON.parse(readFileSync(0, 'utf8'));
const svids = config.svids;
const issuerUrl = new URL(config.issuer);
const insecure = { [oauth.allowInsecureRequests]: true }; // the embedded broker's issuer is http on loopback

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const TT_JWT = 'urn:ietf:params:oauth:token-type:jwt';
const TT_ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const TICKETS = 'https://tickets.internal.example';
const PAYMENTS = 'https://payments.internal.example';
const SUPPORT_BOT = 'spiffe://dev.jitbroker.local/agents/support-bot';
const RESOURCE_SERVER = 'spiffe://dev.jitbroker.local/tools/tickets';

// Every response passes through here so a step can report headers oauth4webapi does not look at.
let last = null;
const recording = { ...insecure, [oauth.customFetch]: async (url, init) => { last = await fetch(url, init); return last; } };

const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
const headerOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8'));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const task = (details) => JSON.stringify([{ type: 'jitbroker_task', ...details }]);

/** What a refusal looked like to the strict client: the RFC 6749 §5.2 body, status and the challenge if any. */
function refusal(e) {
  if (e instanceof oauth.ResponseBodyError) {
    return { kind: 'body', status: e.status, error: e.error, error_description: e.error_description ?? null, body: e.cause };
  }
  if (e instanceof oauth.WWWAuthenticateChallengeError) {
    return { kind: 'challenge', status: e.status, schemes: e.cause.map((c) => c.scheme), errors: e.cause.map((c) => c.parameters.error ?? null) };
  }
  return { kind: 'exception', name: e?.name ?? null, code: e?.code ?? null, message: String(e?.message ?? e) };
}

async function expectRefusal(f) {
  try {
    await f();
    return { kind: 'accepted' };
  } catch (e) {
    return refusal(e);
  }
}

const clientOf = (id) => ({ client_id: id });

async function tokenRequest(as, grantType, clientId, parameters, options = {}) {
  const client = clientOf(clientId);
  const response = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), grantType, parameters, { ...recording, ...options });
  const headers = { cache_control: response.headers.get('cache-control'), content_type: response.headers.get('content-type') };
  const body = await oauth.processGenericTokenEndpointResponse(as, client, response);
  return { body, headers };
}

/** private_key_jwt the RFC 7523 §2.2 way with a pre-minted JWT-SVID: oauth4webapi's None() plus the assertion parameters. */
const assertionParameters = (svid) => ({ client_assertion_type: ASSERTION_TYPE, client_assertion: svid });

async function introspect(as, clientId, svid, token) {
  const client = clientOf(clientId);
  const response = await oauth.introspectionRequest(as, client, oauth.None(), token, { ...insecure, additionalParameters: assertionParameters(svid) });
  return oauth.processIntrospectionResponse(as, client, response);
}

function summary(body) {
  const claims = claimsOf(body.access_token);
  return {
    token_type: body.token_type, expires_in: body.expires_in, scope: body.scope, task_id: body.task_id, lease_id: body.lease_id,
    issued_token_type: body.issued_token_type ?? null, authorization_details: body.authorization_details ?? null,
    refresh_token: body.refresh_token ?? null, segments: body.access_token.split('.').length,
    jwt_header: headerOf(body.access_token), claims,
  };
}

async function discovery() {
  const oauth2 = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, { ...insecure, algorithm: 'oauth2' }));
  const oidc = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, insecure));
  const wrongIssuer = await expectRefusal(async () => oauth.processDiscoveryResponse(new URL('http://127.0.0.1:1/'),
    await oauth.discoveryRequest(issuerUrl, { ...insecure, algorithm: 'oauth2' })));
  return { as: oauth2, same_at_oidc_path: JSON.stringify(oauth2) === JSON.stringify(oidc), wrong_issuer: wrongIssuer };
}

async function jwtBearer(as) {
  const { body, headers } = await tokenRequest(as, JWT_BEARER, SUPPORT_BOT, {
    assertion: svids.bearer, resource: TICKETS, scope: 'tickets.read tool:zendesk',
    authorization_details: task({ task_id: 'node-oauth-1', purpose: 'node interop', resources: ['tickets/1'], context: { ticket: '1' } }),
  });
  return { ...summary(body), headers, access_token: body.access_token };
}

async function exchange(as) {
  const { body } = await tokenRequest(as, TOKEN_EXCHANGE, E2E('exchanger'), {
    subject_token: svids.exchange, subject_token_type: TT_JWT, resource: TICKETS, scope: 'tickets.read tool:crm',
    authorization_details: task({ task_id: 'node-oauth-x', resources: ['tickets/2'] }),
  });
  return summary(body);
}

function E2E(name) {
  return `spiffe://dev.jitbroker.local/agents/${name}`;
}

async function delegation(as) {
  const planner = await tokenRequest(as, JWT_BEARER, E2E('planner'), {
    assertion: svids.planner, resource: TICKETS, scope: 'tickets.update tool:zendesk tool:crm',
    authorization_details: task({ task_id: 'node-oauth-deleg', resources: ['tickets/1', 'tickets/2'] }),
  });
  const worker = 'spiffe://dev.jitbroker.local/workers/w1';
  const child = await tokenRequest(as, TOKEN_EXCHANGE, worker, {
    subject_token: planner.body.access_token, subject_token_type: TT_ACCESS,
    actor_token: svids.worker, actor_token_type: TT_JWT, scope: 'tool:zendesk',
  });
  const widening = await expectRefusal(() => tokenRequest(as, TOKEN_EXCHANGE, worker, {
    subject_token: planner.body.access_token, subject_token_type: TT_ACCESS,
    actor_token: svids.worker2, actor_token_type: TT_JWT, scope: 'tool:jira',
  }));
  const wrongType = await expectRefusal(() => tokenRequest(as, TOKEN_EXCHANGE, worker, {
    subject_token: planner.body.access_token, subject_token_type: TT_JWT,
    actor_token: svids.worker2, actor_token_type: TT_JWT,
  }));
  // RFC 8693 §2.1: scope is "the desired scope of the requested security token", so a client may well name the action too.
  const withAction = await expectRefusal(() => tokenRequest(as, TOKEN_EXCHANGE, worker, {
    subject_token: planner.body.access_token, subject_token_type: TT_ACCESS,
    actor_token: svids.worker3, actor_token_type: TT_JWT, scope: 'tickets.update tool:crm',
  }));
  const introspected = await introspect(as, RESOURCE_SERVER, svids.resourceServer2, child.body.access_token);
  return { parent: summary(planner.body), child: summary(child.body), widening, wrong_subject_type: wrongType, with_action: withAction, introspected };
}

async function dpop(as) {
  const keyPair = await oauth.generateKeyPair('ES256');
  const client = clientOf(E2E('dpop-holder'));
  const handle = oauth.DPoP(client, keyPair);
  let proof = null;
  const capture = { ...insecure, DPoP: handle, [oauth.customFetch]: async (url, init) => { proof = init.headers.dpop; return fetch(url, init); } };
  const parameters = { assertion: svids.dpop, resource: TICKETS, scope: 'tickets.read tool:zendesk' };
  const response = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), JWT_BEARER, parameters, capture);
  const raw = await response.clone().json();
  const body = await oauth.processGenericTokenEndpointResponse(as, client, response);
  // The same proof again (a new assertion, so only the proof is replayed): RFC 9449 §11.1 says refuse it.
  const replay = await fetch(as.token_endpoint, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof },
    body: new URLSearchParams({ ...parameters, grant_type: JWT_BEARER, assertion: svids.dpop2 }),
  });
  const replayBody = await replay.json();
  const introspected = await introspect(as, RESOURCE_SERVER, svids.resourceServer3, body.access_token);
  // A DPoP-bound token as a token exchange's subject_token, by a workload that does not hold the key: observed, not judged.
  const boundParent = await oauth.genericTokenEndpointRequest(as, clientOf(E2E('planner')), oauth.None(), JWT_BEARER, {
    assertion: svids.planner2, resource: TICKETS, scope: 'tickets.update tool:zendesk',
    authorization_details: task({ task_id: 'node-oauth-bound', resources: ['tickets/1'] }),
  }, { ...insecure, DPoP: oauth.DPoP(clientOf(E2E('planner')), await oauth.generateKeyPair('ES256')) });
  const boundToken = (await oauth.processGenericTokenEndpointResponse(as, clientOf(E2E('planner')), boundParent)).access_token;
  const boundExchange = await expectRefusal(async () => {
    const { body } = await tokenRequest(as, TOKEN_EXCHANGE, 'spiffe://dev.jitbroker.local/workers/w2', {
      subject_token: boundToken, subject_token_type: TT_ACCESS, actor_token: svids.worker4, actor_token_type: TT_JWT,
    });
    throw new Error(`accepted: token_type ${body.token_type}, cnf ${JSON.stringify(claimsOf(body.access_token).cnf ?? null)}`);
  });
  return {
    bound_subject_exchange: boundExchange,
    raw_token_type: raw.token_type, token: summary(body), thumbprint: await handle.calculateThumbprint(), introspected,
    replay: { status: replay.status, error: replayBody.error, www_authenticate: replay.headers.get('www-authenticate') },
  };
}

async function introspection(as, token) {
  const byAssertion = await introspect(as, RESOURCE_SERVER, svids.resourceServer, token);
  // oauth4webapi's own private_key_jwt: it builds and signs the assertion (iss = sub = client_id, aud = issuer, jti, exp 60 s)
  // with the dev trust domain's key, so the assertion is a JWT-SVID minted by a second, independent implementation.
  const pem = readFileSync(config.devKeyPath, 'utf8').replace(/-----[^-]+-----|\s/g, '');
  const key = await crypto.subtle.importKey('pkcs8', Buffer.from(pem, 'base64'), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const client = clientOf(RESOURCE_SERVER);
  const byPrivateKeyJwt = await oauth.processIntrospectionResponse(as, client,
    await oauth.introspectionRequest(as, client, oauth.PrivateKeyJwt({ key, kid: config.devKeyId }), token, insecure));
  const stranger = E2E('stranger');
  const byStranger = await expectRefusal(async () => oauth.processIntrospectionResponse(as, clientOf(stranger),
    await oauth.introspectionRequest(as, clientOf(stranger), oauth.None(), token, { ...insecure, additionalParameters: assertionParameters(svids.stranger) })));
  const unauthenticated = await expectRefusal(async () => oauth.processIntrospectionResponse(as, client,
    await oauth.introspectionRequest(as, client, oauth.None(), token, insecure)));
  // RFC 7662 §2.1 also allows a bearer token: the resource server's SVID addressed to the broker as a gRPC call's is.
  // oauth4webapi will not take an authorization header among its options, so it is added on the way out.
  const bearerClient = clientOf(RESOURCE_SERVER);
  const withBearer = { ...insecure, [oauth.customFetch]: (url, init) =>
    fetch(url, { ...init, headers: { ...init.headers, authorization: `Bearer ${svids.resourceServerGrpc}` } }) };
  const byBearer = await oauth.processIntrospectionResponse(as, bearerClient, await oauth.introspectionRequest(as, bearerClient, oauth.None(), token, withBearer));
  const garbage = await introspect(as, RESOURCE_SERVER, svids.resourceServer4, 'not-a-token');
  return { by_assertion: byAssertion, by_private_key_jwt: byPrivateKeyJwt, by_bearer: byBearer, by_stranger: byStranger, unauthenticated, garbage };
}

async function revocation(as) {
  const { body } = await tokenRequest(as, JWT_BEARER, E2E('revoker'), {
    assertion: svids.revoker, resource: TICKETS, scope: 'tickets.read tool:zendesk',
    authorization_details: task({ task_id: 'node-oauth-revoke', resources: ['tickets/3'] }),
  });
  const before = await introspect(as, RESOURCE_SERVER, svids.resourceServer5, body.access_token);
  // RFC 7009 §2.1: the server "verifies whether the token was issued to the client making the revocation request".
  const stranger = clientOf(E2E('stranger'));
  const byStranger = await expectRefusal(async () => oauth.processRevocationResponse(await oauth.revocationRequest(as, stranger, oauth.None(),
    body.access_token, { ...insecure, additionalParameters: assertionParameters(svids.stranger2) })));
  const afterStranger = await introspect(as, RESOURCE_SERVER, svids.resourceServer7, body.access_token);
  const client = clientOf(E2E('revoker'));
  const response = await oauth.revocationRequest(as, client, oauth.None(), body.access_token,
    { ...insecure, additionalParameters: assertionParameters(svids.revokerClient) });
  const status = response.status;
  const result = await oauth.processRevocationResponse(response);
  const after = await introspect(as, RESOURCE_SERVER, svids.resourceServer6, body.access_token);
  const unknown = await oauth.revocationRequest(as, client, oauth.None(), 'not-a-token',
    { ...insecure, additionalParameters: assertionParameters(svids.revokerClient2) });
  return {
    status, processed: result === undefined ? 'ok' : 'unexpected', active_before: before.active, after,
    by_stranger: byStranger, active_after_stranger: afterStranger.active,
    unknown_token_status: unknown.status, access_token: body.access_token, lease_id: body.lease_id,
  };
}

/** Step-up: authorization_pending, an impolite poll answered slow_down, then polling at the interval until a person approves. */
async function stepUp(as) {
  const parameters = {
    assertion: svids.refunder, resource: PAYMENTS, scope: 'payments.refund',
    authorization_details: task({ purpose: 'customer was double charged', resources: ['orders/7'], ttl_seconds: 120 }),
  };
  const agent = E2E('refunder');
  const pending = await expectRefusal(() => tokenRequest(as, JWT_BEARER, agent, parameters));
  if (pending.kind !== 'body' || pending.error !== 'authorization_pending') {
    return { pending };
  }

  const approvalId = pending.body.approval_id;
  const poll = { ...parameters, approval_id: approvalId };
  const first = await expectRefusal(() => tokenRequest(as, JWT_BEARER, agent, poll));
  const tooFast = await expectRefusal(() => tokenRequest(as, JWT_BEARER, agent, poll));
  // Only now may the person approve (the test approves when it reads this line): the two polls above must see it pending.
  process.stderr.write(`approve ${approvalId}\n`);
  let interval = pending.body.interval + (tooFast.error === 'slow_down' ? 5 : 0); // RFC 8628 §3.5
  const polls = [];
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    await sleep(interval * 1000);
    try {
      const { body } = await tokenRequest(as, JWT_BEARER, agent, poll);
      return { pending, first, too_fast: tooFast, polls, granted: summary(body) };
    } catch (e) {
      const r = refusal(e);
      polls.push(r.error ?? r.kind);
      if (r.error === 'slow_down') {
        interval += 5;
      } else if (r.error !== 'authorization_pending') {
        return { pending, first, too_fast: tooFast, polls, failed: r };
      }
    }
  }

  return { pending, first, too_fast: tooFast, polls, timed_out: true };
}

async function refusals(as) {
  const agent = E2E('refused');
  return {
    // RFC 7523 §3 item 3: an assertion addressed to someone else (here the broker's gRPC audience) is invalid_grant.
    wrong_audience: await expectRefusal(() => tokenRequest(as, JWT_BEARER, agent, { assertion: svids.grpcAudience, resource: TICKETS, scope: 'tickets.read' })),
    garbage_assertion: await expectRefusal(() => tokenRequest(as, JWT_BEARER, agent, { assertion: 'a.b.c', resource: TICKETS, scope: 'tickets.read' })),
    missing_assertion: await expectRefusal(() => tokenRequest(as, JWT_BEARER, agent, { resource: TICKETS, scope: 'tickets.read' })),
    unsupported_grant: await expectRefusal(() => tokenRequest(as, 'password', agent, { username: 'a', password: 'b' })),
    denied_action: await expectRefusal(() => tokenRequest(as, JWT_BEARER, agent, { assertion: svids.denied, resource: TICKETS, scope: 'tickets.delete' })),
    unknown_audience: await expectRefusal(() => tokenRequest(as, JWT_BEARER, agent, { assertion: svids.unknownAudience, resource: 'https://elsewhere.example', scope: 'tickets.read' })),
    two_resources: await expectRefusal(() => tokenRequest(as, JWT_BEARER, agent,
      new URLSearchParams([['assertion', svids.twoResources], ['resource', TICKETS], ['resource', PAYMENTS], ['scope', 'tickets.read']]))),
  };
}

async function step(out, name, f) {
  try {
    out[name] = await f();
  } catch (e) {
    out[name] = { step_failed: refusal(e) };
  }
}

async function main() {
  const out = {};
  await step(out, 'discovery', discovery);
  const as = out.discovery.as;
  if (!as) {
    process.stdout.write(JSON.stringify(out));
    return;
  }

  await step(out, 'jwt_bearer', () => jwtBearer(as));
  await step(out, 'exchange', () => exchange(as));
  await step(out, 'delegation', () => delegation(as));
  await step(out, 'dpop', () => dpop(as));
  await step(out, 'introspection', () => introspection(as, out.jwt_bearer.access_token ?? 'missing'));
  await step(out, 'revocation', () => revocation(as));
  await step(out, 'step_up', () => stepUp(as));
  await step(out, 'refusals', () => refusals(as));
  process.stdout.write(JSON.stringify(out));
}

await main();
