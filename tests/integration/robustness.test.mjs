// Robustness: misbehaving clients (garbage, abrupt disconnects mid-frame, connection churn,
// non-HTTP bytes, a client that stops reading) must not affect other clients, and the server
// process must stay alive (health/live 200).

import { describe, it, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { httpRequest, sleep, SharedServer } from './lib/harness.mjs';
import { I, MT, R, WsClient, b64, opB64, textOp, uniqueDoc } from './lib/client.mjs';
import { OtTextClient, runRandomEditing } from './lib/ot-client.mjs';
import { makeRng, seedFromEnv } from './lib/text-ot.mjs';

const SEED = seedFromEnv();

/** Open a raw TCP connection and complete a WebSocket handshake on /collab-ws by hand. */
function rawWebSocket(port, path = '/collab-ws') {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const key = crypto.randomBytes(16).toString('base64');
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`raw handshake timed out; got ${JSON.stringify(buf)}`)); }, 5000);
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('data', function onData(d) {
      buf += d.toString('latin1');
      if (buf.includes('\r\n\r\n')) {
        clearTimeout(timer);
        sock.removeListener('data', onData);
        if (!/^HTTP\/1\.1 101/.test(buf)) { sock.destroy(); reject(new Error(`handshake refused: ${buf}`)); return; }
        resolve(sock);
      }
    });
    sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
}

/** A masked client frame header + masked payload. */
function maskedFrame(opcode, payload, { fin = true, declaredLength } = {}) {
  const len = declaredLength ?? payload.length;
  let header;
  if (len < 126) {
    header = Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | len]);
  } else if (len < 65536) {
    header = Buffer.alloc(4);
    header[0] = (fin ? 0x80 : 0) | opcode; header[1] = 0x80 | 126; header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = (fin ? 0x80 : 0) | opcode; header[1] = 0x80 | 127; header.writeBigUInt64BE(BigInt(len), 2);
  }
  const mask = crypto.randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i % 4];
  return Buffer.concat([header, mask, body]);
}

describe(`robustness (seed ${SEED})`, () => {
  let server;
  const clients = [];
  const shared = new SharedServer({ label: 'robustness' });
  beforeEach(async () => { server = await shared.get(); });
  after(async () => {
    for (const c of clients) c.terminate();
    await shared.finish();
  });

  async function assertServerHealthy() {
    assert.ok(server.alive, `server process died: ${JSON.stringify(server.exit)}\n${server.logTail(40)}`);
    const live = await httpRequest(`${server.url}/health/live`);
    assert.equal(live.status, 200);
    assert.equal(live.body, 'Healthy');
  }

  it('a client sending garbage and then vanishing does not disturb concurrent editors', { timeout: 60000 }, async (t) => {
    t.diagnostic(`seed=${SEED}`);
    const doc = uniqueDoc('garbage');
    const editors = [];
    for (let i = 0; i < 2; i++) {
      const c = await OtTextClient.connectAndJoin(server, doc, { label: `editor${i}` });
      editors.push(c);
      clients.push(c);
    }
    const G = await WsClient.connect(server, { label: 'garbage' });
    clients.push(G);
    await G.joinOk(doc);
    const rng = makeRng(SEED);
    const garbage = async () => {
      const junk = [
        '{', '}', '{"messageType":', 'nul', '\u0000\u0001', '[[[[[[', '{"a":1,}', '"unterminated',
        '['.repeat(100000), `{"x":${'9'.repeat(5000)}}`, '{"messageType":2,"opRequest":{"documentId":5}}',
        JSON.stringify({ messageType: 2, opRequest: { documentId: doc, payload: '%%%', baseRevision: 1 } }),
        JSON.stringify({ messageType: 0, joinRequest: { documentId: doc, documentType: 'text', clientProtoVersion: 1e300 } }),
        JSON.stringify({ messageType: 2, opRequest: { documentId: doc, payload: b64('{"components":[{"type":"retain","count":99999999999}]}'), baseRevision: 1 } }),
        JSON.stringify({ messageType: 4, awarenessRequest: { documentId: doc, dataJson: '['.repeat(5000) } }),
        JSON.stringify({ messageType: 2, opRequest: { documentId: doc, payload: b64('{"components":'.repeat(2000)), baseRevision: 1 } }),
      ];
      for (let i = 0; i < 60; i++) {
        if (G.closeInfo) return;
        if (i % 4 === 3) {
          G.sendRaw(crypto.randomBytes(rng.int(1, 300)), { binary: true });
        } else if (i % 7 === 6) {
          G.sendRaw(Buffer.from([0xC3, 0x28, 0xFF, 0xFE, 0x7B]), { binary: false }); // invalid UTF-8 in a Text frame
        } else {
          G.sendRaw(rng.pick(junk));
        }
        await sleep(rng.int(0, 5));
      }
      G.terminate(); // abrupt: no close frame
    };
    const [target] = await Promise.all([
      runRandomEditing(editors, { seed: SEED, opsPerClient: 40, maxDelayMs: 8 }),
      garbage(),
    ]);
    assert.equal(editors[0].doc, editors[1].doc, `seed=${SEED}: editors diverged`);
    const fresh = await WsClient.connect(server, { label: 'garbage-check' });
    clients.push(fresh);
    const j = await fresh.joinOk(doc);
    assert.equal(j.revision, target);
    assert.equal(j.snapshot.content, editors[0].doc);
    // the vanished peer was announced to the editors
    await editors[0].waitFor(() => editors[0].otherEvents.some((m) => m.messageType === MT.PeerDisconnectedEvent),
      { what: 'PeerDisconnected of the garbage client' });
    await assertServerHealthy();
  });

  it('a client that disconnects in the middle of a frame or right after an op does not disturb others', { timeout: 60000 }, async () => {
    const doc = uniqueDoc('midframe');
    const editors = [];
    for (let i = 0; i < 2; i++) {
      const c = await OtTextClient.connectAndJoin(server, doc, { label: `mf-editor${i}` });
      editors.push(c);
      clients.push(c);
    }
    const vandals = async () => {
      for (let k = 0; k < 6; k++) {
        // a raw socket that joins, then sends half a frame and resets
        const sock = await rawWebSocket(server.port);
        const join = JSON.stringify({ correlationId: `raw-${k}`, messageType: 0, joinRequest: { documentId: doc, documentType: 'text', clientProtoVersion: 1 } });
        sock.write(maskedFrame(1, Buffer.from(join)));
        await sleep(20);
        const op = Buffer.from(JSON.stringify({ messageType: 2, opRequest: { documentId: doc, payload: opB64(textOp(I('zz'))), baseRevision: 1 } }));
        const frame = maskedFrame(1, op);
        sock.write(frame.subarray(0, Math.floor(frame.length / 2)));
        await sleep(5);
        sock.destroy();
        // a frame header announcing 1 MB that never comes
        const sock2 = await rawWebSocket(server.port);
        sock2.write(maskedFrame(1, Buffer.from('{"messageType":'), { declaredLength: 1000000 }));
        await sleep(5);
        sock2.destroy();
        // a ws client that sends an op and terminates immediately (its op may or may not be applied)
        const v = await WsClient.connect(server, { label: `vandal-${k}` });
        const jv = await v.joinOk(doc);
        v.send({ correlationId: `v-${k}`, messageType: 2, opRequest: { documentId: doc, payload: opB64(textOp(R(0), I(`<${k}>`))), baseRevision: jv.revision } });
        v.terminate();
        await sleep(15);
      }
    };
    const [target] = await Promise.all([
      runRandomEditing(editors, { seed: (SEED + 7) >>> 0, opsPerClient: 30, maxDelayMs: 10 }),
      vandals(),
    ]);
    await sleep(200);
    // the vandals' ops (if applied) arrived at the editors as ordinary ReceiveOps
    const maxRev = Math.max(target, ...editors.map((e) => e.revision));
    await Promise.all(editors.map((e) => e.waitRevision(maxRev)));
    assert.equal(editors[0].doc, editors[1].doc, 'editors diverged');
    const fresh = await WsClient.connect(server, { label: 'midframe-check' });
    clients.push(fresh);
    const j = await fresh.joinOk(doc);
    assert.equal(j.revision, editors[0].revision);
    assert.equal(j.snapshot.content, editors[0].doc);
    for (const e of editors) e.checkRevisionSequence();
    await assertServerHealthy();
  });

  it('connection churn: 60 sockets connect, some join and vanish; members see one PeerDisconnected per joined socket', { timeout: 60000 }, async () => {
    const doc = uniqueDoc('churn');
    const M = await WsClient.connect(server, { label: 'churn-member' });
    clients.push(M);
    await M.joinOk(doc);
    let joined = 0;
    const batch = [];
    for (let i = 0; i < 60; i++) {
      batch.push((async () => {
        const c = await WsClient.connect(server, { label: `churn-${i}` });
        if (i % 3 === 0) {
          await c.joinOk(doc);
          joined++;
        }
        if (i % 2 === 0) c.terminate(); else await c.close();
      })());
    }
    await Promise.all(batch);
    const deadline = Date.now() + 5000;
    while (M.queue.filter((m) => m.messageType === MT.PeerDisconnectedEvent).length < joined && Date.now() < deadline) await sleep(50);
    await sleep(200);
    const events = M.drain().filter((m) => m.messageType === MT.PeerDisconnectedEvent);
    assert.equal(events.length, joined, `expected ${joined} PeerDisconnected events, got ${events.length}`);
    assert.equal(new Set(events.map((e) => e.peerDisconnectedEvent.peerId)).size, joined, 'one distinct peer id per socket');
    assert.equal(await M.opOk(doc, textOp(I('ok')), 1), 2);
    await assertServerHealthy();
  });

  it('non-HTTP bytes, truncated requests and bad upgrades on the port do not hurt the server', async () => {
    const payloads = [
      Buffer.from([0x00, 0x01, 0x02, 0xff, 0x13, 0x37]),
      Buffer.from('GARBAGE / HTTP/9.9\r\n\r\n'),
      Buffer.from('GET /health/live HTTP/1.1\r\nHost: x\r\n'), // never finished
      Buffer.from('GET /collab-ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n'), // no key
      Buffer.from(`GET /${'a'.repeat(100000)} HTTP/1.1\r\nHost: x\r\n\r\n`),
    ];
    await Promise.all(payloads.map((p) => new Promise((resolve) => {
      const s = net.connect(server.port, '127.0.0.1', () => { s.write(p); setTimeout(() => { s.destroy(); resolve(); }, 300); });
      s.on('error', () => resolve());
      s.on('data', () => {});
    })));
    const res = await httpRequest(`${server.url}/collab-ws`, {
      headers: { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Version': '13' },
    });
    assert.ok(res.status >= 400 && res.status < 500, `an upgrade without Sec-WebSocket-Key must be refused with 4xx, got ${res.status}`);
    await assertServerHealthy();
  });

  it('a client that stops reading does not block ops of other clients', { timeout: 60000 }, async () => {
    const doc = uniqueDoc('slow-reader');
    const A = await WsClient.connect(server, { label: 'fast-A' });
    const B = await WsClient.connect(server, { label: 'fast-B' });
    const S = await WsClient.connect(server, { label: 'stalled' });
    clients.push(A, B, S);
    await A.joinOk(doc);
    await B.joinOk(doc);
    await S.joinOk(doc);
    S.ws._socket.pause(); // stop reading: the server's writes to S back up
    const chunk = 'x'.repeat(16 * 1024);
    let rev = 1;
    const started = Date.now();
    for (let i = 0; i < 150; i++) {
      rev = await A.opOk(doc, textOp(I(chunk)), rev); // each ack within the default 5 s wait
    }
    assert.equal(rev, 151);
    const last = await B.next((m) => m.messageType === MT.ReceiveOpEvent && m.receiveOpEvent.newRevision === 151,
      { what: 'the last op on B', timeoutMs: 10000 });
    assert.ok(last);
    assert.ok(Date.now() - started < 30000, 'ops kept flowing while one client was stalled');
    S.terminate();
    await assertServerHealthy();
  });
});
