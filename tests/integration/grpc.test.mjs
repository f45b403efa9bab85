// gRPC transport (wire-protocol §5, §8.3) with the official @grpc/grpc-js client against the
// project's proto/opstream.proto: Connect exchanges, convergence of concurrent gRPC editors,
// mixed gRPC + raw WebSocket documents, errors, deadlines and cancellation, plain HTTP/1.1 on the
// same port, and the management / versioning / comments / health services.

import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import path from 'node:path';
import protoLoader from '@grpc/proto-loader';
import { SharedServer, httpRequest, sleep } from './lib/harness.mjs';
import { WsClient, UUID_RE, uniqueDoc } from './lib/client.mjs';
import { OtTextClient, runRandomEditing } from './lib/ot-client.mjs';
import { GrpcConnect, PROTO_FILE, closeAllClients, grpc, serviceClient, unary } from './lib/grpc-client.mjs';

const SEED = Number(process.env.OPSTREAM_TEST_SEED || Date.now() % 1000000);
const FORBIDDEN = 'Forbidden: Insufficient permissions for this operation.';

describe('gRPC transport', () => {
  const shared = new SharedServer({ label: 'grpc', env: { OPSTREAM__TRANSPORTS: 'websockets,grpc' } });
  let server;
  before(() => console.log(`grpc tests seed ${SEED} (OPSTREAM_TEST_SEED=${SEED} replays)`));
  beforeEach(async () => { server = await shared.get(); });
  after(async () => { closeAllClients(); await shared.finish(); });

  test('Connect: join, op, awareness, events and half-close per §8.3', async () => {
    const doc = uniqueDoc('grpc');
    const a = new GrpcConnect(server, { label: 'A' });
    const b = new GrpcConnect(server, { label: 'B' });
    const ja = await a.join('c-1', doc);
    assert.equal(ja.messageType, 'joinResponse');
    assert.equal(ja.joinResponse.revision, 1);
    assert.equal(Buffer.from(ja.joinResponse.snapshot).toString(), '{"content":""}');
    assert.deepEqual(ja.joinResponse.awareness ?? [], []);
    const jb = await b.join('c-7', doc);
    assert.equal(jb.joinResponse.revision, 1);

    const ack = await a.op('c-2', doc, { components: [{ type: 'insert', text: 'Hello' }] }, 1);
    // OP-1 fixed: a real op_response, success with an empty error message.
    assert.equal(ack.messageType, 'opResponse');
    assert.equal(ack.opResponse.success, true);
    assert.equal(ack.opResponse.newRevision, 2);
    assert.equal(ack.opResponse.errorMessage ?? '', '');
    const ev = await b.next((m) => m.messageType === 'receiveOpEvent');
    assert.equal(ev.correlationId ?? '', '');
    assert.equal(ev.receiveOpEvent.newRevision, 2);
    assert.deepEqual(JSON.parse(Buffer.from(ev.receiveOpEvent.payload).toString()), { components: [{ type: 'insert', text: 'Hello' }] });
    await a.expectNoMessage(150, (m) => m.messageType === 'receiveOpEvent'); // no echo

    a.awareness(doc, { name: 'Alice', cursor: 5 });
    const aw = await b.next((m) => m.messageType === 'receiveAwarenessEvent');
    assert.equal(aw.receiveAwarenessEvent.awareness.length, 1);
    const state = aw.receiveAwarenessEvent.awareness[0];
    assert.match(state.peerId, UUID_RE);
    assert.deepEqual(JSON.parse(state.dataJson), { name: 'Alice', cursor: 5 });
    assert.ok(Number(state.lastUpdated.seconds) > 1600000000);
    await a.expectNoMessage(100, (m) => m.messageType === 'receiveAwarenessEvent');

    // A late joiner sees the text and A's presence.
    const c = new GrpcConnect(server, { label: 'C' });
    const jc = await c.join('c-9', doc);
    assert.equal(jc.joinResponse.revision, 2);
    assert.equal(JSON.parse(Buffer.from(jc.joinResponse.snapshot).toString()).content, 'Hello');
    assert.deepEqual(jc.joinResponse.awareness.map((s) => s.peerId), [state.peerId]);

    const status = await a.end();
    assert.equal(status.code, grpc.status.OK);
    const left = await b.next((m) => m.messageType === 'peerDisconnectedEvent');
    assert.equal(left.peerDisconnectedEvent.peerId, state.peerId);
    assert.equal((await b.end()).code, grpc.status.OK);
    assert.equal((await c.end()).code, grpc.status.OK);
  });

  test('Connect: request errors and rejections keep the call open (§5.4, OP-3)', async () => {
    const doc = uniqueDoc('grpc-err');
    const a = new GrpcConnect(server, { label: 'err' });
    // An op before any join is still answered (OP-3).
    const early = await a.op('o-0', doc, { components: [{ type: 'insert', text: 'x' }] }, 1);
    assert.equal(early.messageType, 'opResponse');
    assert.equal(early.opResponse.success ?? false, false);
    assert.equal(early.opResponse.newRevision ?? 0, 0);
    assert.ok(early.opResponse.errorMessage.length > 0);

    const bad = await a.join('c-8', 'doc-2', 'spreadsheet');
    assert.equal(bad.messageType, 'errorResponse');
    assert.equal(bad.errorResponse.message, 'No session engine registered for document type: spreadsheet');
    const proto = await a.join('c-p', doc, 'text', 2);
    assert.equal(proto.errorResponse.message, 'UnsupportedProtocol: Required proto=1');
    const empty = await a.join('c-e', '', 'text');
    assert.equal(empty.errorResponse.message, 'InvalidMessage: Missing document id.');

    await a.join('c-ok', doc);
    const rejected = await a.op('o-1', doc, Buffer.from('{"components":[{"type":"bogus"}]}'), 1);
    assert.equal(rejected.opResponse.success ?? false, false);
    assert.equal(rejected.opResponse.newRevision, 1); // engine rejection: current revision
    assert.ok(rejected.opResponse.errorMessage.length > 0);
    const emptyOp = await a.op('o-2', doc, Buffer.alloc(0), 1);
    assert.equal(emptyOp.opResponse.success ?? false, false);
    assert.equal(emptyOp.opResponse.newRevision ?? 0, 0);
    assert.equal(emptyOp.opResponse.errorMessage, 'InvalidMessage: Operation payload is empty.');

    // Unparsable presence JSON: error_response with the request's correlation id.
    a.write({ correlationId: 'aw-1', awarenessRequest: { documentId: doc, dataJson: '{nope' } });
    const awErr = await a.next((m) => m.correlationId === 'aw-1');
    assert.equal(awErr.messageType, 'errorResponse');
    // A ClientMessage with no oneof member is ignored.
    a.write({ correlationId: 'nothing' });
    await a.expectNoMessage(200, (m) => m.correlationId === 'nothing');

    const ok = await a.op('o-3', doc, { components: [{ type: 'insert', text: 'ok' }] }, 1);
    assert.equal(ok.opResponse.success, true);
    assert.equal(ok.opResponse.newRevision, 2);
    assert.equal((await a.end()).code, grpc.status.OK);
  });

  test('concurrent gRPC editors converge (client-side OT, R1–R3)', async () => {
    const doc = uniqueDoc('grpc-conv');
    const clients = [];
    for (let i = 0; i < 4; i++) {
      const g = new GrpcConnect(server, { label: `g${i}` });
      const c = new OtTextClient(g.asWsLike(), doc, { label: `g${i}` });
      await c.join();
      clients.push(c);
    }
    const target = await runRandomEditing(clients, { seed: SEED, opsPerClient: 30, maxDelayMs: 6 });
    const docs = clients.map((c) => c.doc);
    for (const c of clients) c.checkRevisionSequence();
    assert.ok(docs.every((d) => d === docs[0]), `diverged (seed ${SEED}): ${JSON.stringify(docs)}`);
    // The server agrees.
    const probe = new GrpcConnect(server, { label: 'probe' });
    const j = await probe.join('p', doc);
    assert.equal(j.joinResponse.revision, target);
    assert.equal(JSON.parse(Buffer.from(j.joinResponse.snapshot).toString()).content, docs[0]);
    await probe.end();
    await Promise.all(clients.map((c) => c.close()));
  });

  test('gRPC and raw WebSocket peers edit one document together', async () => {
    const doc = uniqueDoc('grpc-mixed');
    const clients = [];
    for (let i = 0; i < 2; i++) {
      const g = new GrpcConnect(server, { label: `grpc${i}` });
      const c = new OtTextClient(g.asWsLike(), doc, { label: `grpc${i}` });
      await c.join();
      clients.push(c);
      clients.push(await OtTextClient.connectAndJoin(server, doc, { label: `ws${i}` }));
    }
    await runRandomEditing(clients, { seed: SEED + 1, opsPerClient: 25, maxDelayMs: 6 });
    for (const c of clients) c.checkRevisionSequence();
    const docs = clients.map((c) => c.doc);
    assert.ok(docs.every((d) => d === docs[0]), `diverged (seed ${SEED + 1}): ${JSON.stringify(docs)}`);

    // Presence and departures cross transports.
    const ws = await WsClient.connect(server, { label: 'ws-observer' });
    await ws.joinOk(doc);
    const g = new GrpcConnect(server, { label: 'grpc-presence' });
    await g.join('j', doc);
    g.awareness(doc, { who: 'grpc' });
    const seen = await ws.next((m) => m.messageType === 6);
    assert.deepEqual(seen.receiveAwarenessEvent.awareness[0].data, { who: 'grpc' });
    const peer = seen.receiveAwarenessEvent.awareness[0].peerId;
    g.cancel();
    const left = await ws.next((m) => m.messageType === 7);
    assert.equal(left.peerDisconnectedEvent.peerId, peer);
    await ws.close();
    await Promise.all(clients.map((c) => c.close()));
  });

  test('unknown services and methods answer UNIMPLEMENTED', async () => {
    const client = serviceClient(server, 'OpStreamService');
    const unknownMethod = await new Promise((resolve) => {
      client.makeUnaryRequest('/opstream.OpStreamService/Nope', (x) => x, (x) => x, Buffer.alloc(0), (e) => resolve(e));
    });
    assert.equal(unknownMethod.code, grpc.status.UNIMPLEMENTED);
    const unknownService = await new Promise((resolve) => {
      client.makeUnaryRequest('/other.Service/Call', (x) => x, (x) => x, Buffer.alloc(0), (e) => resolve(e));
    });
    assert.equal(unknownService.code, grpc.status.UNIMPLEMENTED);
    // A bidi call to an unknown method is answered at once, without waiting for a half-close.
    const stream = client.makeBidiStreamRequest('/opstream.OpStreamService/Missing', (x) => x, (x) => x);
    const status = await new Promise((resolve) => { stream.on('status', resolve); stream.on('error', () => {}); });
    assert.equal(status.code, grpc.status.UNIMPLEMENTED);
    client.close();
  });

  test('a request message over 4 MiB fails with RESOURCE_EXHAUSTED; 4 MiB passes the framing', async () => {
    const doc = uniqueDoc('grpc-big');
    const a = new GrpcConnect(server, { label: 'big' });
    await a.join('j', doc);
    a.write({ correlationId: 'huge', opRequest: { documentId: doc, payload: Buffer.alloc(4 * 1024 * 1024 + 16, 0x20), baseRevision: 1 } });
    const status = await a.ended;
    assert.equal(status.code, grpc.status.RESOURCE_EXHAUSTED);
    // Just under the limit: the message is read and the session layer rejects the payload size.
    const b = new GrpcConnect(server, { label: 'big-ok' });
    await b.join('j', doc);
    const res = await b.op('big', doc, Buffer.alloc(4 * 1024 * 1024 - 64, 0x20), 1);
    assert.equal(res.opResponse.success ?? false, false);
    assert.equal(res.opResponse.errorMessage, 'InvalidMessage: Operation payload exceeds 1048576 bytes.');
    await b.end();
  });

  test('gzip-compressed requests are inflated (grpc-encoding: gzip)', async () => {
    const doc = uniqueDoc('grpc-gzip');
    // grpc-js compresses every message of this channel with gzip (algorithm 2).
    const a = new GrpcConnect(server, { label: 'gzip', channelOptions: { 'grpc.default_compression_algorithm': 2 } });
    const j = await a.join('j', doc);
    assert.equal(j.messageType, 'joinResponse');
    const text = 'compressible '.repeat(500);
    const ack = await a.op('o', doc, { components: [{ type: 'insert', text }] }, j.joinResponse.revision);
    assert.equal(ack.opResponse.success, true);
    const probe = new GrpcConnect(server, { label: 'gzip-probe' });
    const p = await probe.join('p', doc);
    assert.equal(JSON.parse(Buffer.from(p.joinResponse.snapshot).toString()).content, text);
    await probe.end();
    assert.equal((await a.end()).code, grpc.status.OK);
  });

  test('deadlines and cancellation end the call and run the disconnect procedure', async () => {
    const doc = uniqueDoc('grpc-deadline');
    const watcher = new GrpcConnect(server, { label: 'watcher' });
    await watcher.join('w', doc);
    const d = new GrpcConnect(server, { label: 'deadline', deadline: Date.now() + 400 });
    await d.join('j', doc);
    d.awareness(doc, { here: true });
    const aw = await watcher.next((m) => m.messageType === 'receiveAwarenessEvent');
    const status = await d.ended;
    assert.equal(status.code, grpc.status.DEADLINE_EXCEEDED);
    const left = await watcher.next((m) => m.messageType === 'peerDisconnectedEvent', { timeoutMs: 3000 });
    assert.equal(left.peerDisconnectedEvent.peerId, aw.receiveAwarenessEvent.awareness[0].peerId);

    const c = new GrpcConnect(server, { label: 'cancel' });
    await c.join('j', doc);
    c.cancel();
    await watcher.next((m) => m.messageType === 'peerDisconnectedEvent', { timeoutMs: 3000 });
    // The document still works for the remaining peer.
    const ok = await watcher.op('o', doc, { components: [{ type: 'insert', text: 'still' }] }, 1);
    assert.equal(ok.opResponse.success, true);
    await watcher.end();
  });

  test('plain HTTP/1.1 and HTTP/2 requests on the same port while Connect streams are open', async () => {
    const doc = uniqueDoc('grpc-http');
    const a = new GrpcConnect(server, { label: 'open' });
    await a.join('j', doc);
    const root = await httpRequest(`${server.url}/`);
    assert.equal(root.status, 200);
    assert.match(root.body, /Transports=websockets,grpc/);
    const live = await httpRequest(`${server.url}/health/live`);
    assert.equal(live.status, 200);
    // Plain HTTP/2 (no gRPC content type) reaches the same endpoints.
    const session = http2.connect(server.url);
    const body = await new Promise((resolve, reject) => {
      const req = session.request({ ':path': '/health/live' });
      let data = '';
      req.on('data', (d) => { data += d; });
      req.on('end', () => resolve(data));
      req.on('error', reject);
    });
    session.close();
    assert.equal(body, 'Healthy');
    const ack = await a.op('o', doc, { components: [{ type: 'insert', text: 'x' }] }, 1);
    assert.equal(ack.opResponse.success, true);
    await a.end();
  });

  test('management and versioning answer PERMISSION_DENIED with the default authorizer (§5.5, §5.6)', async () => {
    const mgmt = serviceClient(server, 'OpStreamManagementService');
    for (const [method, request] of [['ListDocuments', {}], ['GetDocumentInfo', { documentId: 'x' }],
      ['GetSnapshot', { documentId: 'x' }], ['DeleteDocument', { documentId: 'x' }],
      ['CompactDocument', { documentId: 'x', upToRevision: 1 }], ['ListMilestones', { documentId: 'x' }],
      ['PurgeHistory', { documentId: 'x', upToRevision: 1 }], ['PurgeTenant', {}]]) {
      const { error } = await unary(mgmt, method, request);
      assert.ok(error, method);
      assert.equal(error.code, grpc.status.PERMISSION_DENIED, method);
      assert.equal(error.details, FORBIDDEN, method);
    }
    mgmt.close();
    const ver = serviceClient(server, 'OpStreamVersioningService');
    for (const method of ['RegisterName', 'ListNames', 'ListBranches', 'MergeBranch']) {
      const { error } = await unary(ver, method, {});
      assert.equal(error.code, grpc.status.PERMISSION_DENIED, method);
      assert.equal(error.details, FORBIDDEN, method);
    }
    ver.close();
  });

  test('comments service answers in-band failures; SubscribeComments stays open until cancelled (§5.7)', async () => {
    const comments = serviceClient(server, 'OpStreamCommentsService');
    const created = await unary(comments, 'CreateComment', { peerId: 'p', documentId: 'd', body: 'hi' });
    assert.equal(created.response.success ?? false, false);
    assert.ok(created.response.errorMessage.length > 0);
    const deleted = await unary(comments, 'DeleteComment', { peerId: 'p', documentId: 'd', commentId: 'c' });
    assert.equal(deleted.response.success ?? false, false);
    const listed = await unary(comments, 'ListOpenComments', { documentId: 'd' });
    assert.equal(listed.error.code, grpc.status.INTERNAL);
    const sub = comments.SubscribeComments({ documentId: 'd' });
    const status = new Promise((resolve) => { sub.on('status', resolve); sub.on('error', () => {}); });
    const early = await Promise.race([status, sleep(300).then(() => 'open')]);
    assert.equal(early, 'open');
    sub.cancel();
    assert.equal((await status).code, grpc.status.CANCELLED);
    const deadline = comments.SubscribeComments({ documentId: 'd' }, { deadline: Date.now() + 200 });
    const ended = await new Promise((resolve) => { deadline.on('status', resolve); deadline.on('error', () => {}); });
    assert.equal(ended.code, grpc.status.DEADLINE_EXCEEDED);
    comments.close();
  });

  test('server reflection lists the services and serves their descriptors', async () => {
    const reflectionProto = path.resolve(path.dirname(PROTO_FILE), 'reflection.proto');
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(reflectionProto, { oneofs: true }));
    for (const version of ['v1alpha', 'v1']) {
      const Service = pkg.grpc.reflection.v1alpha.ServerReflection;
      const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
      const def = Service.service.ServerReflectionInfo;
      const call = client.makeBidiStreamRequest(`/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`,
        def.requestSerialize, def.responseDeserialize);
      const answers = [];
      call.on('data', (m) => answers.push(m));
      const status = new Promise((resolve) => call.on('status', resolve));
      call.write({ listServices: '*' });
      call.write({ fileContainingSymbol: 'opstream.OpStreamService' });
      call.write({ fileByFilename: 'opstream.proto' });
      call.write({ fileContainingSymbol: 'no.Such' });
      call.end();
      assert.equal((await status).code, grpc.status.OK, version);
      assert.equal(answers.length, 4, version);
      const names = answers[0].listServicesResponse.service.map((x) => x.name);
      for (const n of ['opstream.OpStreamService', 'opstream.OpStreamManagementService',
        'opstream.OpStreamVersioningService', 'opstream.OpStreamCommentsService']) assert.ok(names.includes(n), n);
      for (const a of answers.slice(1, 3)) {
        const files = a.fileDescriptorResponse.fileDescriptorProto.map((b) => Buffer.from(b).toString('latin1'));
        assert.ok(files[0].includes('opstream.proto') && files[0].includes('OpStreamService'));
        // The imports come along: each FileDescriptorProto starts with its name (field 1).
        assert.equal(files.length, 3);
        assert.ok(files.some((f) => f.slice(2).startsWith('google/protobuf/timestamp.proto')));
        assert.ok(files.some((f) => f.slice(2).startsWith('google/protobuf/wrappers.proto')));
      }
      assert.equal(answers[3].errorResponse.errorCode, grpc.status.NOT_FOUND);
      client.close();
    }
  });

  test('grpc.health.v1.Health/Check reflects /health/ready', async () => {
    const client = serviceClient(server, 'OpStreamService');
    const encode = (service) => Buffer.concat([Buffer.from([0x0a, service.length]), Buffer.from(service)]);
    const check = (service) => new Promise((resolve) => {
      client.makeUnaryRequest('/grpc.health.v1.Health/Check', (x) => x, (x) => x, encode(service),
        (error, response) => resolve({ error, response }));
    });
    const overall = await check('');
    assert.ifError(overall.error);
    assert.deepEqual([...overall.response], [0x08, 0x01]); // SERVING (memory storage: Degraded → 200)
    assert.deepEqual([...(await check('opstream.OpStreamService')).response], [0x08, 0x01]);
    assert.equal((await check('no.such.Service')).error.code, grpc.status.NOT_FOUND);
    // Watch: the current status at once, the call stays open; an unknown service is SERVICE_UNKNOWN.
    const watch = (service) => {
      const call = client.makeServerStreamRequest('/grpc.health.v1.Health/Watch', (x) => x, (x) => x, encode(service));
      const first = new Promise((resolve) => call.once('data', resolve));
      const status = new Promise((resolve) => { call.on('status', resolve); call.on('error', () => {}); });
      return { call, first, status };
    };
    const w = watch('');
    assert.deepEqual([...(await w.first)], [0x08, 0x01]);
    const u = watch('no.such.Service');
    assert.deepEqual([...(await u.first)], [0x08, 0x03]);
    const early = await Promise.race([w.status, sleep(200).then(() => 'open')]);
    assert.equal(early, 'open');
    w.call.cancel();
    u.call.cancel();
    assert.equal((await w.status).code, grpc.status.CANCELLED);
    client.close();
  });
});

describe('gRPC flow control', () => {
  const shared = new SharedServer({ label: 'grpc-slow', env: {
    OPSTREAM__TRANSPORTS: 'grpc', OPSTREAM__SERVER__SENDQUEUELIMITBYTES: 65536 } });
  after(async () => { closeAllClients(); await shared.finish(); });

  test('a reader that stops reading is dropped; other streams on its connection keep going', async () => {
    const server = await shared.get();
    const doc = uniqueDoc('grpc-slow');
    const slow = new GrpcConnect(server, { label: 'slow' });
    await slow.join('j', doc);
    slow.call.pause();
    // grpc-js shares one HTTP/2 connection per target: the writer multiplexes with the slow reader.
    const writer = new GrpcConnect(server, { label: 'writer' });
    const j = await writer.join('j', doc);
    let revision = j.joinResponse.revision;
    const chunk = 'x'.repeat(4000);
    for (let i = 0; i < 80; i++) {
      const ack = await writer.op(`o-${i}`, doc, { components: [{ type: 'insert', text: chunk }] }, revision);
      assert.equal(ack.opResponse.success, true, `op ${i}`);
      revision = ack.opResponse.newRevision;
    }
    slow.call.resume();
    const status = await Promise.race([slow.ended, sleep(5000).then(() => null)]);
    assert.ok(status, 'the slow reader was not dropped');
    assert.equal(status.code, grpc.status.CANCELLED);
    // It left the document: the writer sees its departure.
    await writer.next((m) => m.messageType === 'peerDisconnectedEvent');
    assert.equal((await writer.end()).code, grpc.status.OK);
  });
});

describe('gRPC shutdown', () => {
  test('SIGTERM finishes open calls with UNAVAILABLE and exits 0 promptly', async () => {
    const shared = new SharedServer({ label: 'grpc-stop', env: { OPSTREAM__TRANSPORTS: 'grpc' } });
    const server = await shared.get();
    try {
      const a = new GrpcConnect(server, { label: 'open-at-stop' });
      await a.join('j', uniqueDoc('grpc-stop'));
      const comments = serviceClient(server, 'OpStreamCommentsService');
      const sub = comments.SubscribeComments({ documentId: 'd' });
      const subStatus = new Promise((resolve) => { sub.on('status', resolve); sub.on('error', () => {}); });
      await sleep(100);
      const started = Date.now();
      const exit = await server.stop();
      assert.equal(exit.code, 0);
      assert.equal(exit.forced, false);
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
      assert.equal((await a.ended).code, grpc.status.UNAVAILABLE);
      assert.equal((await subStatus).code, grpc.status.UNAVAILABLE);
    } finally {
      closeAllClients();
      await shared.finish();
    }
  });
});

describe('gRPC transport disabled', () => {
  test('without grpc in OPSTREAM__TRANSPORTS, gRPC calls answer UNIMPLEMENTED', async () => {
    const shared = new SharedServer({ label: 'no-grpc', env: { OPSTREAM__TRANSPORTS: 'websockets' } });
    const server = await shared.get();
    try {
      const a = new GrpcConnect(server, { label: 'off' });
      a.write({ correlationId: 'x', joinRequest: { documentId: 'd', documentType: 'text', clientProtoVersion: 1 } });
      const status = await a.ended;
      assert.equal(status.code, grpc.status.UNIMPLEMENTED);
    } finally {
      closeAllClients();
      await shared.finish();
    }
  });
});
