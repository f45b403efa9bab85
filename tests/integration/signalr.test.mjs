// SignalR transport (wire-protocol §3, §8.1; OP-13, OP-18, OP-21, OP-37) with the official
// `@microsoft/signalr` client over every transport, plus byte-level checks with a raw WebSocket.
// Seed of the random editing: $OPSTREAM_TEST_SEED (printed in the suite name).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as signalR from '@microsoft/signalr';
import { SharedServer, httpRequest, sleep } from './lib/harness.mjs';
import { uniqueDoc } from './lib/client.mjs';
import { OtTextClient, runRandomEditing } from './lib/ot-client.mjs';
import { seedFromEnv } from './lib/text-ot.mjs';
import { RS, RawHub, SrOtClient, TRANSPORTS, b64, bytesText, opB64, opPayload, startHub, unb64, until } from './signalr-client.mjs';

const SEED = seedFromEnv();
const ID_RE = /^[A-Za-z0-9_-]{22}$/;
const TS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{0,6}[1-9])?\+00:00$/;
const HELLO = { components: [{ type: 'insert', text: 'Hello' }] };
const hubError = (target, text) => `An unexpected error occurred invoking '${target}' on the server. HubException: ${text}`;
const bindError = (target) => `Failed to invoke '${target}' due to an error on the server.`;

const shared = new SharedServer({ label: 'signalr', env: { OPSTREAM__TRANSPORTS: 'signalr,websockets' } });
let server;
const open = [];
const track = (c) => { open.push(c); return c; };

before(async () => { server = await shared.get(); });
after(async () => {
  for (const c of open) { try { await c.stop(); } catch { /* already stopped */ } }
  await shared.finish();
});

async function rejects(promise, message) {
  await assert.rejects(promise, (e) => { assert.equal(e.message, message); return true; });
}

describe('SignalR negotiate and HTTP surface (§3.1)', () => {
  it('negotiateVersion=1 answers ids, token and the three transports', async () => {
    const res = await fetch(`${server.url}/collab/negotiate?negotiateVersion=1`, { method: 'POST' });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    const body = await res.json();
    assert.equal(body.negotiateVersion, 1);
    assert.match(body.connectionId, ID_RE);
    assert.match(body.connectionToken, ID_RE);
    assert.notEqual(body.connectionId, body.connectionToken);
    assert.deepEqual(body.availableTransports, [
      { transport: 'WebSockets', transferFormats: ['Text', 'Binary'] },
      { transport: 'ServerSentEvents', transferFormats: ['Text'] },
      { transport: 'LongPolling', transferFormats: ['Text', 'Binary'] },
    ]);
    assert.deepEqual(Object.keys(body), ['negotiateVersion', 'connectionId', 'connectionToken', 'availableTransports']);
  });

  it('negotiate without a version answers version 0 without a token; higher versions get 1', async () => {
    const v0 = await (await fetch(`${server.url}/collab/negotiate`, { method: 'POST' })).json();
    assert.equal(v0.negotiateVersion, 0);
    assert.equal(v0.connectionToken, undefined);
    assert.match(v0.connectionId, ID_RE);
    const v5 = await (await fetch(`${server.url}/collab/negotiate?negotiateVersion=5`, { method: 'POST' })).json();
    assert.equal(v5.negotiateVersion, 1);
    // version 0: the connection id is the `id` of the transport requests
    const ws = await RawHub.connect(server, { negotiate: false, handshake: null }).catch((e) => e);
    assert.ok(ws instanceof RawHub);
    ws.terminate();
    const res = await httpRequest(`${server.url}/collab?id=${v0.connectionId}`);
    assert.equal(res.status, 200, 'the first long poll of a v0 connection');
  });

  it('GET without id is 400, unknown ids are 404, a second WebSocket is 409', async () => {
    assert.equal((await httpRequest(`${server.url}/collab`)).status, 400);
    assert.equal((await httpRequest(`${server.url}/collab?id=nope`)).status, 404);
    assert.equal((await httpRequest(`${server.url}/collab?id=nope`, { method: 'POST', body: '{}' + RS })).status, 404);
    assert.equal((await httpRequest(`${server.url}/collab?id=nope`, { method: 'DELETE' })).status, 404);
    await assert.rejects(RawHub.connect(server, { negotiate: false, handshake: null, path: '/collab?id=nope' }), /HTTP 404/);
    const first = await RawHub.connect(server);
    const token = first.negotiation.connectionToken;
    const second = await httpRequest(`${server.url}/collab?id=${token}`, {
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    assert.equal(second.status, 409);
    first.close();
  });

  it('long polling: a send while another send of the connection runs is 409; DELETE ends it with 202', async () => {
    const neg = await (await fetch(`${server.url}/collab/negotiate?negotiateVersion=1`, { method: 'POST' })).json();
    const url = `${server.url}/collab?id=${neg.connectionToken}`;
    assert.equal((await httpRequest(url)).status, 200, 'first poll');
    const doc = uniqueDoc('lp409');
    assert.equal((await httpRequest(url, { method: 'POST', body: '{"protocol":"json","version":1}' + RS +
      JSON.stringify({ type: 1, target: 'JoinDocument', arguments: [doc, 'text', 1] }) + RS })).status, 200);
    // Thousands of invocations run one at a time; pings are sent until one lands while that send
    // still runs (it must be 409, never processed). A faster machine gets a longer send.
    let conflicts = 0;
    for (let count = 15000, attempt = 0; attempt < 4 && conflicts === 0; attempt++, count *= 2) {
      let many = '';
      for (let i = 0; i < count; i++) many += JSON.stringify({ type: 1, target: 'UpdateAwareness', arguments: [doc, { i }] }) + RS;
      let firstDone = false;
      const first = httpRequest(url, { method: 'POST', body: many, timeoutMs: 60000 }).finally(() => { firstDone = true; });
      while (!firstDone) {
        const status = (await httpRequest(url, { method: 'POST', body: '{"type":6}' + RS })).status;
        if (status === 409) { conflicts++; break; }
        assert.equal(status, 200, 'a send after the long one finished is accepted');
      }
      assert.equal((await first).status, 200);
    }
    assert.ok(conflicts > 0, 'a send overlapping a running send was answered 409');
    assert.equal((await httpRequest(url, { method: 'DELETE' })).status, 202);
    assert.equal((await httpRequest(url)).status, 404, 'the connection is gone');
  });

  it('the official client works with skipNegotiation (WebSocket without id)', async () => {
    const c = track(await startHub(server, { skipNegotiation: true }));
    const r = await c.invoke('JoinDocument', uniqueDoc('skip'), 'text', 1);
    assert.equal(r.revision, 1);
    await c.stop();
  });

  it('handshake errors: unknown protocol, unsupported version, garbage', async () => {
    const foo = await RawHub.connect(server, { handshake: '{"protocol":"foo","version":1}' });
    assert.deepEqual(foo.handshakeResponse, { error: "The protocol 'foo' is not supported." });
    assert.equal(await foo.closed, 1000);
    const v2 = await RawHub.connect(server, { handshake: '{"protocol":"json","version":2}' });
    assert.deepEqual(v2.handshakeResponse, { error: "The server does not support version 2 of the 'json' protocol." });
    const junk = await RawHub.connect(server, { handshake: 'garbage' });
    assert.ok(typeof junk.handshakeResponse.error === 'string');
  });
});

const CONFIGS = [...TRANSPORTS.map((transport) => ({ transport, protocol: 'json' })),
  { transport: 'WebSockets', protocol: 'messagepack' }, { transport: 'LongPolling', protocol: 'messagepack' }];

for (const { transport, protocol } of CONFIGS) {
  const bin = protocol === 'messagepack';
  describe(`SignalR collaboration hub over ${transport}, ${protocol} protocol (seed ${SEED})`, () => {
    it('§8.1 exchange: join, op, ReceiveOp, awareness, PeerDisconnected', async () => {
      const doc = uniqueDoc('x81');
      const a = track(await startHub(server, { transport, protocol }));
      const b = track(await startHub(server, { transport, protocol }));
      assert.match(a.connectionId, ID_RE);
      const events = [];
      b.on('ReceiveOp', (p, r) => events.push(['op', bytesText(p), r]));
      b.on('ReceiveAwarenessUpdate', (s) => events.push(['aw', s]));
      b.on('PeerDisconnected', (id) => events.push(['left', id]));
      a.on('ReceiveOp', () => events.push(['echo']));
      const ja = await a.invoke('JoinDocument', doc, 'text', 1);
      assert.deepEqual({ ...ja, snapshot: bytesText(ja.snapshot) }, { revision: 1, snapshot: '{"content":""}', pendingOps: [], currentAwareness: [] });
      if (!bin) assert.equal(ja.snapshot, 'eyJjb250ZW50IjoiIn0=');
      await b.invoke('JoinDocument', doc, 'text', 1);
      const ack = await a.invoke('SendOp', doc, opPayload(HELLO, protocol), 1);
      assert.deepEqual(ack, { success: true, newRevision: 2, errorMessage: null });
      await until(() => events.length >= 1, { what: 'ReceiveOp on B' });
      assert.deepEqual(events[0], ['op', JSON.stringify(HELLO), 2]);
      assert.equal((await a.invoke('UpdateAwareness', doc, { name: 'Alice', cursor: 5 })) ?? null, null);
      await until(() => events.length >= 2, { what: 'awareness on B' });
      const [, state] = events[1];
      assert.equal(state.peerId, a.connectionId);
      assert.deepEqual(state.data, { name: 'Alice', cursor: 5 });
      assert.match(state.lastUpdated, TS_RE);
      assert.equal((await a.invoke('UpdateAwareness', doc, { name: 'Alice', cursor: 5 })) ?? null, null, 'unchanged awareness');
      const c = track(await startHub(server, { transport, protocol }));
      const jc = await c.invoke('JoinDocument', doc, 'text', 1);
      assert.equal(jc.revision, 2);
      assert.equal(bytesText(jc.snapshot), '{"content":"Hello"}');
      assert.equal(jc.currentAwareness.length, 1);
      assert.equal(jc.currentAwareness[0].peerId, a.connectionId);
      const ids = [a.connectionId, c.connectionId].sort();
      await c.stop();
      await a.stop();
      await until(() => events.filter((e) => e[0] === 'left').length >= 2, { what: 'PeerDisconnected for C and A' });
      const left = events.filter((e) => e[0] === 'left').map((e) => e[1]);
      assert.deepEqual(left.sort(), ids);
      assert.equal(events.filter((e) => e[0] === 'aw').length, 1, 'the unchanged awareness was not broadcast');
      assert.equal(events.filter((e) => e[0] === 'echo').length, 0, 'no echo of own ops');
      await b.stop();
    });

    it('invocation errors carry the exact texts of §3.6', async () => {
      const doc = uniqueDoc('err');
      const c = track(await startHub(server, { transport, protocol }));
      await rejects(c.invoke('JoinDocumnt', doc, 'text', 1),
        "Failed to invoke 'JoinDocumnt' due to an error on the server. HubException: Method does not exist.");
      await rejects(c.invoke('JoinDocument', doc, 'text'), bindError('JoinDocument'));
      await rejects(c.invoke('JoinDocument', doc, 'text', 1, 2), bindError('JoinDocument'));
      await rejects(c.invoke('JoinDocument', doc, 'text', '1'), bindError('JoinDocument'));
      await rejects(c.invoke('SendOp', doc, [1, 2, 3], 1), bindError('SendOp'));
      await rejects(c.invoke('SendOp', doc, { a: 1 }, 1), bindError('SendOp'));
      await rejects(c.invoke('SendOp', doc, 'not base64!', 1), bindError('SendOp'));
      await rejects(c.invoke('JoinDocument', doc, 'spreadsheet', 1),
        hubError('JoinDocument', 'No session engine registered for document type: spreadsheet'));
      await rejects(c.invoke('JoinDocument', doc, 'text', 2), hubError('JoinDocument', 'UnsupportedProtocol: Required proto=1'));
      await rejects(c.invoke('JoinDocument', '', 'text', 1), hubError('JoinDocument', 'InvalidMessage: Missing document id.'));
      await rejects(c.invoke('JoinDocument', null, 'text', 1), hubError('JoinDocument', 'InvalidMessage: Missing document id.'));
      // OP-13 / OP-21: ops and awareness need a join on this connection
      await rejects(c.invoke('SendOp', doc, opB64(HELLO), 1),
        hubError('SendOp', 'InvalidMessage: Document not joined on this connection.'));
      await rejects(c.invoke('UpdateAwareness', doc, { a: 1 }),
        hubError('UpdateAwareness', 'InvalidMessage: Document not joined on this connection.'));
      // method names are case-insensitive (OP-37)
      const j = await c.invoke('joindocument', doc, 'TEXT', 1);
      assert.equal(j.revision, 1);
      await rejects(c.invoke('SendOp', doc, '', 1), hubError('SendOp', 'InvalidMessage: Operation payload is empty.'));
      await rejects(c.invoke('SendOp', doc, opB64(HELLO), -1), hubError('SendOp', 'InvalidMessage: Base revision must be non-negative.'));
      await rejects(c.invoke('UpdateAwareness', doc, { big: 'x'.repeat(70000) }),
        hubError('UpdateAwareness', 'InvalidMessage: Awareness payload exceeds 65536 bytes.'));
      const rejected = await c.invoke('SendOp', doc, opPayload({ components: 5 }, protocol), 1);
      assert.equal(rejected.success, false);
      assert.equal(rejected.newRevision, 1);
      assert.equal(typeof rejected.errorMessage, 'string');
      await rejects(c.invoke('CreateComment', doc, { body: 'hi', anchor: null }),
        hubError('CreateComment', 'Comments are not available on this server.'));
      // the connection is still usable
      assert.equal((await c.invoke('SendOp', doc, opB64(HELLO), 1)).newRevision, 2);
      await c.stop();
    });

    it('4 concurrent OT clients converge (R1–R3 checked on the wire)', { timeout: 60000 }, async (t) => {
      const seed = (SEED + CONFIGS.findIndex((c) => c.transport === transport && c.protocol === protocol)) >>> 0;
      t.diagnostic(`seed=${seed}`);
      const doc = uniqueDoc('conv');
      const clients = [];
      for (let i = 0; i < 4; i++) clients.push(await SrOtClient.connectAndJoin(server, doc, { transport, protocol, label: `${transport}-${protocol}-${i}` }));
      const target = await runRandomEditing(clients, { seed, opsPerClient: transport === 'WebSockets' ? 30 : 15, maxDelayMs: 8 });
      for (const c of clients) c.checkRevisionSequence();
      for (const c of clients) assert.equal(c.doc, clients[0].doc, `seed=${seed}: ${c.label} diverged`);
      const fresh = track(await startHub(server, { transport, protocol }));
      const j = await fresh.invoke('JoinDocument', doc, 'text', 1);
      assert.equal(j.revision, target);
      assert.equal(JSON.parse(bytesText(j.snapshot)).content, clients[0].doc, `seed=${seed}: fresh joiner snapshot`);
      await fresh.stop();
      for (const c of clients) await c.close();
    });
  });
}

describe('SignalR records on the wire (WebSockets)', () => {
  it('records split across frames and packed into one frame are all processed in order', async () => {
    const r = await RawHub.connect(server);
    assert.deepEqual(r.handshakeResponse, {});
    const doc = uniqueDoc('frames');
    const join = JSON.stringify({ arguments: [doc, 'text', 1], invocationId: '0', target: 'JoinDocument', type: 1 }) + RS;
    r.send(join.slice(0, 10));
    await sleep(20);
    r.send(join.slice(10, 40));
    await sleep(20);
    r.send(join.slice(40));
    const joined = await r.next();
    assert.deepEqual(joined, { type: 3, invocationId: '0', result: { revision: 1, snapshot: 'eyJjb250ZW50IjoiIn0=', pendingOps: [], currentAwareness: [] } });
    const op1 = { type: 1, invocationId: '1', target: 'SendOp', arguments: [doc, opB64(HELLO), 1] };
    const op2 = { type: 1, invocationId: '2', target: 'SendOp', arguments: [doc, opB64({ components: [{ type: 'retain', count: 5 }, { type: 'insert', text: '!' }] }), 2] };
    r.send(JSON.stringify({ type: 6 }) + RS + JSON.stringify(op1) + RS + JSON.stringify(op2) + RS.slice(0));
    assert.deepEqual(await r.next(), { type: 3, invocationId: '1', result: { success: true, newRevision: 2, errorMessage: null } });
    assert.deepEqual(await r.next(), { type: 3, invocationId: '2', result: { success: true, newRevision: 3, errorMessage: null } });
    // Binary frames carry the same bytes
    r.ws.send(Buffer.from(JSON.stringify({ type: 1, invocationId: '3', target: 'UpdateAwareness', arguments: [doc, 1] }) + RS));
    assert.deepEqual(await r.next(), { type: 3, invocationId: '3', result: null });
    r.close();
  });

  it('fire-and-forget invocations are never answered; stream invocations and unknown types are handled', async () => {
    const r = await RawHub.connect(server);
    const doc = uniqueDoc('ff');
    r.sendJson({ type: 1, target: 'NoSuchMethod', arguments: [] });
    r.sendJson({ type: 1, target: 'JoinDocument', arguments: [doc, 'text', 1] });
    r.sendJson({ type: 99, whatever: true });
    r.sendJson({ type: 5, invocationId: '77' });
    r.sendJson({ type: 4, invocationId: 's1', target: 'JoinDocument', arguments: [doc, 'text', 1] });
    assert.deepEqual(await r.next(), { type: 3, invocationId: 's1',
      error: "The client attempted to invoke the non-streaming 'JoinDocument' method with a streaming invocation." });
    // the fire-and-forget join did happen: an op is accepted
    const ack = await r.invoke('SendOp', [doc, opB64(HELLO), 1]);
    assert.deepEqual(ack.result, { success: true, newRevision: 2, errorMessage: null });
    r.close();
  });

  it('garbage closes with {"type":7,"error":"Connection closed with an error."}', async () => {
    for (const bad of ['garbage', '{"type":"1"}', '[1,2]', '{"type":1,"target":"X","arguments":{}}', '{"no":"type"}']) {
      const r = await RawHub.connect(server);
      r.send(bad + RS);
      assert.deepEqual(await r.next(), { type: 7, error: 'Connection closed with an error.' }, bad);
      await r.closed;
    }
  });

  it('OP-18: a 1 MiB op in base64 reaches the validator; only records over 2 MiB close the connection', { timeout: 30000 }, async () => {
    const r = await RawHub.connect(server);
    const doc = uniqueDoc('big');
    await r.invoke('JoinDocument', [doc, 'text', 1]);
    const prefix = '{"components":[{"type":"insert","text":"';
    const suffix = '"}]}';
    const exact = prefix + 'a'.repeat(1048576 - prefix.length - suffix.length) + suffix;
    const ok = await r.invoke('SendOp', [doc, b64(exact), 1], 'big1');
    assert.deepEqual(ok.result, { success: true, newRevision: 2, errorMessage: null });
    const over = await r.invoke('SendOp', [doc, b64(exact + ' '), 2], 'big2');
    assert.equal(over.error, hubError('SendOp', 'InvalidMessage: Operation payload exceeds 1048576 bytes.'));
    r.send(JSON.stringify({ type: 1, invocationId: 'huge', target: 'SendOp', arguments: [doc, 'A'.repeat(2 * 1024 * 1024), 2] }) + RS);
    assert.deepEqual(await r.next({ timeoutMs: 10000 }), { type: 7, error: 'Connection closed with an error.' });
    await r.closed;
  });

  it('a Close from the client ends the connection; peers see PeerDisconnected', async () => {
    const doc = uniqueDoc('close');
    const a = await RawHub.connect(server);
    const b = await RawHub.connect(server);
    await a.invoke('JoinDocument', [doc, 'text', 1]);
    await b.invoke('JoinDocument', [doc, 'text', 1]);
    a.sendJson({ type: 7 });
    assert.deepEqual(await b.next(), { type: 1, target: 'PeerDisconnected', arguments: [a.negotiation.connectionId] });
    await a.closed;
    b.close();
  });
});

describe('SignalR management hub (§3.8, deny-all)', () => {
  it('every method answers Forbidden, wrapped; binding and unknown methods as usual', async () => {
    const m = track(await startHub(server, { path: '/manage' }));
    const calls = [
      ['MgmtListDocuments', [null, null]], ['MgmtListDocuments', [0, 10]], ['MgmtGetDocumentInfo', ['d']],
      ['MgmtGetSnapshot', ['d']], ['MgmtListMilestones', ['d']], ['MgmtDeleteDocument', ['d']],
      ['MgmtCompactDocument', ['d', 5]], ['MgmtPurgeHistory', ['d', 5]], ['MgmtPurgeTenant', []],
    ];
    for (const [method, args] of calls) {
      await rejects(m.invoke(method, ...args), hubError(method, 'Forbidden: Insufficient permissions for this operation.'));
    }
    await rejects(m.invoke('MgmtCompactDocument', 'd'), bindError('MgmtCompactDocument'));
    await rejects(m.invoke('MgmtListDocuments', 'a', 'b'), bindError('MgmtListDocuments'));
    await rejects(m.invoke('JoinDocument', 'd', 'text', 1),
      "Failed to invoke 'JoinDocument' due to an error on the server. HubException: Method does not exist.");
    await m.stop();
  });
});

describe('SignalR mixed with raw WebSocket clients', () => {
  it('SignalR (every transport, JSON and MessagePack) and /collab-ws clients converge on one document', { timeout: 60000 }, async (t) => {
    const seed = (SEED + 11) >>> 0;
    t.diagnostic(`seed=${seed}`);
    const doc = uniqueDoc('mixed');
    const clients = [];
    for (const transport of TRANSPORTS) clients.push(await SrOtClient.connectAndJoin(server, doc, { transport, label: `sr-${transport}` }));
    for (const transport of ['WebSockets', 'LongPolling']) {
      clients.push(await SrOtClient.connectAndJoin(server, doc, { transport, protocol: 'messagepack', label: `sr-msgpack-${transport}` }));
    }
    for (let i = 0; i < 2; i++) clients.push(await OtTextClient.connectAndJoin(server, doc, { label: `ws-${i}` }));
    const target = await runRandomEditing(clients, { seed, opsPerClient: 15, maxDelayMs: 8 });
    for (const c of clients) c.checkRevisionSequence();
    for (const c of clients) assert.equal(c.doc, clients[0].doc, `seed=${seed}: ${c.label} diverged`);
    assert.ok(target > 1);
    for (const c of clients) await c.close();
  });
});
