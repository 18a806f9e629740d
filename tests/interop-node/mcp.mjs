// Drives the sample MCP server examples/mcp-tickets (guarded by JitBroker.ToolGuard) with the official MCP TypeScript SDK
// (@modelcontextprotocol/sdk), an independent peer, and reports what it saw.
// Usage: node mcp.mjs < config.json, config = { mcpUrl, issuer, task, svids: { assertion, revoke, hostile } } (tokens on stdin,
// never on a command line). Prints one JSON object: step name -> observed result; McpTicketsInteropTests.cs asserts on it.
// A step that throws records { step_failed } and the later steps still run where they can.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { discoverOAuthProtectedResourceMetadata, discoverAuthorizationServerMetadata, extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import { readFileSync } from 'node:fs';

const config = JSON.parse(readFileSync(0, 'utf8'));
const mcpUrl = new URL(config.mcpUrl);
const out = {};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Every HTTP exchange the SDK makes, so a step can report what went over the wire (never a token).
const wire = [];
const recordingFetch = async (url, init) => {
  const response = await fetch(url, init);
  wire.push({ method: init?.method ?? 'GET', url: String(url), status: response.status, www_authenticate: response.headers.get('www-authenticate') });
  return response;
};

async function step(name, f) {
  try {
    out[name] = await f();
  } catch (e) {
    out[name] = { step_failed: `${e?.name}: ${e?.message ?? e}` };
  }
}

/** How a refused call looked: the SDK's error and the last HTTP answer (status, challenge parsed by the SDK). */
function refusal(e) {
  const last = wire.findLast((w) => w.url === mcpUrl.href);
  const challenge = last?.www_authenticate ? extractWWWAuthenticateParams(new Response(null, { headers: { 'www-authenticate': last.www_authenticate } })) : {};
  return {
    error: e?.name ?? null, code: e instanceof StreamableHTTPError ? e.code : null, status: last?.status ?? null,
    www_authenticate: last?.www_authenticate ?? null, challenge_error: challenge.error ?? null, challenge_scope: challenge.scope ?? null,
  };
}

/**
 * A non-interactive OAuth client for the SDK's own auth flow (no redirect URL → the SDK calls prepareTokenRequest): the
 * agent presents its workload identity (a JWT-SVID addressed to the issuer) in the RFC 7523 jwt-bearer grant and declares
 * its task in authorization_details. It asks for one tool only.
 */
class JwtBearerAgent {
  tokenRequests = 0;
  discovered = undefined;
  // The authorization server found from the resource's metadata (RFC 9728 authorization_servers) and its RFC 8414 metadata,
  // handed to the SDK as discovery state; the SDK still fetches the protected-resource metadata itself after the 401.
  discoveryState() { return this.discovered; }
  #tokens;
  get redirectUrl() { return undefined; }
  get clientMetadata() { return { client_name: 'jitbroker-mcp-interop', redirect_uris: [], grant_types: ['urn:ietf:params:oauth:grant-type:jwt-bearer'], scope: 'tickets.read tool:tickets.get' }; }
  clientInformation() { return { client_id: 'jwt-bearer-agent' }; }
  tokens() { return this.#tokens; }
  saveTokens(tokens) { this.#tokens = tokens; }
  get accessToken() { return this.#tokens?.access_token; }
  redirectToAuthorization() { throw new Error('no interactive authorization in a workload'); }
  saveCodeVerifier() {}
  codeVerifier() { throw new Error('no authorization code flow'); }
  // The jwt-bearer assertion authenticates the agent: no client secret, no client_id parameter.
  addClientAuthentication() {}
  prepareTokenRequest() {
    this.tokenRequests += 1;
    if (this.tokenRequests > 1) {
      throw new Error('step-up declined: this agent declared a one-tool task');
    }
    return new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: config.svids.assertion, scope: 'tickets.read tool:tickets.get',
      authorization_details: JSON.stringify([{ type: 'jitbroker_task', task_id: config.task, purpose: 'Read ticket 42 for the customer', resources: ['tickets/42'] }]),
    });
  }
}

const agent = new JwtBearerAgent();
const client = new Client({ name: 'jitbroker-mcp-interop', version: '1.0.0' });
let bearerClient = null; // the same token as a static header, no auth provider: refusals surface instead of step-up attempts

await step('unauthenticated', async () => {
  const response = await fetch(mcpUrl, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  });
  const { resourceMetadataUrl } = extractWWWAuthenticateParams(response);
  const prm = await discoverOAuthProtectedResourceMetadata(mcpUrl, { resourceMetadataUrl }, fetch);
  // The SDK's metadata schema requires authorization_endpoint, which RFC 8414 §2 leaves out for an authorization server
  // without an authorization-endpoint grant (the broker's are jwt-bearer and token exchange): read it without the schema.
  const asUrl = new URL('/.well-known/oauth-authorization-server', prm.authorization_servers[0]);
  const as = await (await fetch(asUrl)).json();
  agent.discovered = { authorizationServerUrl: prm.authorization_servers[0], authorizationServerMetadata: as };
  let sdkSchema = 'accepted';
  try {
    await discoverAuthorizationServerMetadata(new URL(prm.authorization_servers[0]));
  } catch (e) {
    sdkSchema = String(e?.message ?? e).includes('authorization_endpoint') ? 'requires authorization_endpoint' : String(e?.message ?? e);
  }
  return {
    sdk_as_metadata_schema: sdkSchema,
    status: response.status, resource_metadata: resourceMetadataUrl?.href ?? null, prm,
    as_issuer: as?.issuer ?? null, as_token_endpoint: as?.token_endpoint ?? null,
  };
});

await step('connect', async () => {
  const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: agent, fetch: recordingFetch });
  await client.connect(transport);
  return {
    server: client.getServerVersion()?.name ?? null, token_requests: agent.tokenRequests,
    wire: wire.map((w) => ({ method: w.method, url: w.url, status: w.status })),
    scope: agent.tokens()?.scope ?? null, claims: agent.accessToken ? JSON.parse(Buffer.from(agent.accessToken.split('.')[1], 'base64url').toString('utf8')) : null,
  };
});

await step('list', async () => ({ tools: (await client.listTools()).tools.map((t) => t.name) }));

await step('call_granted', async () => {
  const result = await client.callTool({ name: 'tickets.get', arguments: { id: '42' } });
  return { is_error: result.isError ?? false, text: result.content?.[0]?.text ?? null };
});

await step('call_other', async () => {
  bearerClient = new Client({ name: 'jitbroker-mcp-interop-bearer', version: '1.0.0' });
  await bearerClient.connect(new StreamableHTTPClientTransport(mcpUrl, {
    fetch: recordingFetch, requestInit: { headers: { authorization: `Bearer ${agent.accessToken}` } },
  }));
  try {
    await bearerClient.callTool({ name: 'tickets.close', arguments: { id: '42' } });
    return { accepted: true };
  } catch (e) {
    return refusal(e);
  }
});

await step('step_up_declined', async () => {
  // Through the auth provider the SDK answers a 403 insufficient_scope by asking for a wider token (SEP-835 step-up);
  // the agent declines, so the call fails and the server never ran the tool.
  try {
    await client.callTool({ name: 'tickets.comment', arguments: { id: '42', text: 'hi' } });
    return { accepted: true };
  } catch (e) {
    return { ...refusal(e), message: String(e?.message ?? e), token_requests: agent.tokenRequests };
  }
});

// Hostile requests with the agent's own material: what an attacker holding the one-tool token (or the agent's SVID) tries.
async function raw(body, authorization) {
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };
  if (authorization) headers.authorization = authorization;
  const response = await fetch(mcpUrl, { method: 'POST', headers, body });
  const text = await response.text();
  let rpcError = null;
  try {
    rpcError = JSON.parse(text)?.error?.message ?? null; // the MCP guard's 400/413 answer is a JSON-RPC error
  } catch {
    // not JSON
  }
  return { status: response.status, reason: response.headers.get('jitbroker-reason'), rpc_error: rpcError };
}

await step('hostile', async () => {
  const token = agent.accessToken;
  const [h, p, sig] = token.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  const widened = Buffer.from(JSON.stringify({ ...claims, tools: ['tickets.get', 'tickets.close'], scope: `${claims.scope} tool:tickets.close` })).toString('base64url');
  const call = (name) => JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: { id: '42' } } });
  return {
    widened_token: await raw(call('tickets.close'), `Bearer ${h}.${widened}.${sig}`),
    unsigned_token: await raw(call('tickets.get'), `Bearer ${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${p}.`),
    svid_as_token: await raw(call('tickets.get'), `Bearer ${config.svids.hostile}`),
    batch_smuggling: await raw(`[${call('tickets.get')},${call('tickets.close')}]`, `Bearer ${token}`),
    name_not_a_string: await raw(JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: ['tickets.close'] } }), `Bearer ${token}`),
    duplicate_name: await raw('{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"tickets.get","name":"tickets.close"}}', `Bearer ${token}`),
    malformed_json: await raw('{"jsonrpc":"2.0",', `Bearer ${token}`),
    oversized: await raw(JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: 'tickets.get', arguments: { id: 'x'.repeat(1_100_000) } } }), `Bearer ${token}`),
  };
});

await step('revocation', async () => {
  // Warm the tool's introspection cache with an allowed call, then the agent revokes its own token (RFC 7009), then call
  // until the tool refuses: the time from the revocation's answer to the first refusal.
  await bearerClient.callTool({ name: 'tickets.get', arguments: { id: '42' } });
  const revoke = await fetch(new URL('/oauth2/revoke', config.issuer), {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      token: agent.accessToken, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: config.svids.revoke,
    }),
  });
  const revokedAt = performance.now();
  let allowedAfter = 0;
  for (;;) {
    try {
      await bearerClient.callTool({ name: 'tickets.get', arguments: { id: '42' } });
      allowedAfter += 1;
    } catch (e) {
      return { revoke_status: revoke.status, refused_after_ms: Math.round(performance.now() - revokedAt), allowed_after: allowedAfter, ...refusal(e) };
    }
    if (performance.now() - revokedAt > 10_000) {
      return { revoke_status: revoke.status, refused_after_ms: null, allowed_after: allowedAfter };
    }
    await sleep(20);
  }
});

await client.close().catch(() => {});
await bearerClient?.close().catch(() => {});
process.stdout.write(JSON.stringify(out) + '\n');
