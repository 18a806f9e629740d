// Drives a running JitBroker with @grpc/grpc-js (pure JavaScript gRPC), an implementation independent of ours.
// Usage: node interop.js PROTOS_DIR REFLECTION_PROTO TARGET IDENTITY[,IDENTITY...]
// Prints one JSON object: scenario name -> observed result. tests/JitBroker.Server.Tests/NodeInteropTests.cs asserts on it.
'use strict';
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');
const path = require('path');

const [protos, reflectionProto, target, identityList] = process.argv.slice(2);
const identities = identityList.split(',');
const options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [protos] };
const def = grpc.loadPackageDefinition(loader.loadSync(['jitbroker/v1/broker.proto', 'grpc/health/v1/health.proto'], options));
const reflection = grpc.loadPackageDefinition(loader.loadSync(reflectionProto, options));
const creds = grpc.credentials.createInsecure();
const broker = new def.jitbroker.v1.CredentialBroker(target, creds);
const health = new def.grpc.health.v1.Health(target, creds);
const raw = new grpc.Client(target, creds);

const auth = (n) => { const m = new grpc.Metadata(); m.add('authorization', 'Bearer ' + identities[n]); return m; };
const deadline = (ms) => new Date(Date.now() + ms);
const unary = (method, request, metadata, ms = 10000) => new Promise((resolve, reject) =>
  broker[method](request, metadata, { deadline: deadline(ms) }, (err, res) => (err ? reject(err) : resolve(res))));
const error = (e) => ({ code: grpc.status[e.code], details: e.details, reason: (e.metadata && e.metadata.get('jitbroker-reason')[0]) || null });
const attempt = async (f) => { try { await f(); return { code: 'OK' }; } catch (e) { return error(e); } };
const ticket = (task, purpose = 'interop') => ({
  task_id: task, target: 'https://tickets.internal.example',
  intent: { action: 'tickets.create', purpose, tools: ['zendesk'], resources: ['tickets/7'] },
});

async function main() {
  const out = {};
  const issued = await unary('RequestCredential', ticket('node-task-1'), auth(0));
  const active = await unary('IntrospectCredential', { token: issued.credential.token }, auth(0));
  const ended = await unary('EndTask', { task_id: 'node-task-1' }, auth(0));
  const inactive = await unary('IntrospectCredential', { token: issued.credential.token }, auth(0));
  out.roundtrip = {
    lease_id: issued.lease_id, token_segments: issued.credential.token.split('.').length, tools: issued.scope.tools,
    active_before: active.active, task_before: active.task_id, end_outcomes: ended.leases.map((l) => l.outcome),
    end_lease_ids: ended.leases.map((l) => l.lease_id), active_after: inactive.active,
  };

  const denied = ticket('node-task-2');
  denied.intent.action = 'tickets.delete';
  out.denied = await attempt(() => unary('RequestCredential', denied, auth(1)));
  out.unauthenticated = await attempt(() => unary('RequestCredential', ticket('node-task-3'), new grpc.Metadata()));

  const rawUnary = (method) => new Promise((resolve, reject) =>
    raw.makeUnaryRequest(method, (x) => x, (x) => x, Buffer.alloc(0), auth(2), { deadline: deadline(10000) },
      (err, res) => (err ? reject(err) : resolve(res))));
  out.unknown_method = await attempt(() => rawUnary('/jitbroker.v1.CredentialBroker/StealCredential'));
  out.unknown_service = await attempt(() => rawUnary('/evil.v1.Nope/Do'));
  out.admin_on_agent_port = await attempt(() => rawUnary('/jitbroker.v1.BrokerAdmin/ListLeases'));

  out.oversized = await attempt(() => unary('RequestCredential', ticket('node-task-5', 'x'.repeat(5 * 1024 * 1024)), auth(2)));
  out.deadline = await attempt(() => unary('RequestCredential', ticket('node-task-6'), auth(2), 0));

  out.health = await new Promise((resolve, reject) => health.Check({ service: 'jitbroker.v1.CredentialBroker' },
    { deadline: deadline(5000) }, (err, res) => (err ? reject(err) : resolve(res.status))));
  out.watch = await new Promise((resolve, reject) => {
    const call = health.Watch({ service: '' }, { deadline: deadline(10000) });
    call.on('data', (m) => { resolve(m.status); call.cancel(); });
    call.on('error', (e) => { if (e.code !== grpc.status.CANCELLED) reject(e); });
  });

  const Reflection = reflection.grpc.reflection.v1alpha.ServerReflection;
  out.reflection = await new Promise((resolve, reject) => {
    const call = new Reflection(target, creds).ServerReflectionInfo({ deadline: deadline(10000) });
    const names = [];
    call.on('data', (m) => (m.list_services_response ? m.list_services_response.service : []).forEach((s) => names.push(s.name)));
    call.on('end', () => resolve(names.sort()));
    call.on('error', reject);
    call.write({ list_services: '' });
    call.end();
  });

  process.stdout.write(JSON.stringify(out));
}

main().then(() => process.exit(0), (e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
