// RFC 6455 behaviour of /collab-ws after the handshake (the server's own framing layer): pings,
// fragmented messages, the close handshake, protocol violations and shutdown, with the `ws` client
// and with hand-made frames on a plain TCP socket. Violations close only the offending socket.

import { describe, it, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import WebSocket from 'ws';
import { SharedServer, startServer, within } from './lib/harness.mjs';
import { I, MT, WsClient, short, textOp, uniqueDoc } from './lib/client.mjs';

const shared = new SharedServer({ label: 'websocket-framing' });
let server;
const sockets = [];
beforeEach(async () => { server = await shared.get(); });
after(async () => {
  for (const s of sockets) s.destroy?.() ?? s.terminate?.();
  await shared.finish();
});

const joinMessage = (doc, correlationId) => JSON.stringify({
  correlationId, messageType: 0, joinRequest: { documentId: doc, documentType: 'text', clientProtoVersion: 1 },
});

function openWs() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.wsBase}/collab-ws`, { perMessageDeflate: false });
    sockets.push(ws);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function closed(ws) {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** A raw TCP client that completed the upgrade; `frames()` parses what the server sends. */
async function openRaw() {
  const socket = net.connect(server.port, '127.0.0.1');
  sockets.push(socket);
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  const key = crypto.randomBytes(16).toString('base64');
  socket.write(`GET /collab-ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let buffer = Buffer.alloc(0);
  const state = { ended: false };
  socket.on('data', (d) => { buffer = Buffer.concat([buffer, d]); });
  socket.on('close', () => { state.ended = true; });
  const deadline = Date.now() + 3000;
  while (!buffer.includes('\r\n\r\n')) {
    if (Date.now() > deadline) throw new Error('no handshake response');
    await new Promise((r) => setTimeout(r, 10));
  }
  const headerEnd = buffer.indexOf('\r\n\r\n') + 4;
  const head = buffer.subarray(0, headerEnd).toString();
  assert.match(head, /^HTTP\/1\.1 101/);
  const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  assert.match(head, new RegExp(`Sec-WebSocket-Accept: ${accept.replace(/[+/]/g, '\\$&')}`, 'i'));
  buffer = buffer.subarray(headerEnd);
  return {
    socket,
    state,
    /** Frames received so far: [{opcode, payload}] (server frames are unmasked). */
    frames() {
      const out = [];
      let b = buffer;
      while (b.length >= 2) {
        let len = b[1] & 0x7f; let off = 2;
        if (len === 126) { if (b.length < 4) break; len = b.readUInt16BE(2); off = 4; }
        else if (len === 127) { if (b.length < 10) break; len = Number(b.readBigUInt64BE(2)); off = 10; }
        if (b.length < off + len) break;
        out.push({ fin: (b[0] & 0x80) !== 0, opcode: b[0] & 0x0f, masked: (b[1] & 0x80) !== 0, payload: b.subarray(off, off + len) });
        b = b.subarray(off + len);
      }
      return out;
    },
  };
}

function maskedFrame(opcode, payload, { fin = true, mask = true, rsv = 0 } = {}) {
  const data = Buffer.from(payload);
  const head = [((fin ? 0x80 : 0) | rsv | opcode)];
  const m = mask ? 0x80 : 0;
  if (data.length < 126) head.push(m | data.length);
  else { head.push(m | 126, data.length >> 8, data.length & 0xff); }
  const key = crypto.randomBytes(4);
  const body = Buffer.from(data.map((x, i) => (mask ? x ^ key[i % 4] : x)));
  return Buffer.concat([Buffer.from(head), mask ? key : Buffer.alloc(0), body]);
}

async function waitFor(predicate, what, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('WebSocket framing on /collab-ws', () => {
  it('answers a ping with a pong carrying the same data', async () => {
    const ws = await openWs();
    const pong = new Promise((resolve) => ws.once('pong', (data) => resolve(data.toString())));
    ws.ping('are-you-there');
    assert.equal(await within(pong, 3000, 'no pong'), 'are-you-there');
    ws.close();
  });

  it('reassembles a fragmented message (with a ping between fragments)', async () => {
    const raw = await openRaw();
    const text = joinMessage(uniqueDoc('frag'), 'frag-1');
    const cut = Math.floor(text.length / 2);
    raw.socket.write(maskedFrame(0x1, text.slice(0, cut), { fin: false }));
    raw.socket.write(maskedFrame(0x9, 'mid'));
    raw.socket.write(maskedFrame(0x0, text.slice(cut), { fin: true }));
    await waitFor(() => raw.frames().some((f) => f.opcode === 0x1), 'the join response');
    const frames = raw.frames();
    assert.equal(frames[0].opcode, 0xA, 'the pong comes first');
    assert.equal(frames[0].payload.toString(), 'mid');
    const response = JSON.parse(frames.find((f) => f.opcode === 0x1).payload.toString());
    assert.equal(response.messageType, MT.JoinResponse, short(response));
    assert.equal(response.correlationId, 'frag-1');
    for (const f of frames) {
      assert.equal(f.masked, false, 'server frames are never masked');
      assert.equal(f.fin, true, 'server frames are never fragmented');
    }
  });

  it('answers a client close with 1000 "Closing" and closes the connection (§4.2)', async () => {
    const raw = await openRaw();
    raw.socket.write(maskedFrame(0x8, Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from('done')])));  // 4000
    await waitFor(() => raw.state.ended, 'the server to close TCP');
    const close = raw.frames().find((f) => f.opcode === 0x8);
    assert.ok(close, 'a close frame was sent back');
    assert.equal(close.payload.readUInt16BE(0), 1000);
    assert.equal(close.payload.subarray(2).toString(), 'Closing');
  });

  it('closes with 1002 on an unmasked client frame, 1007 on invalid UTF-8 text; others unaffected', async () => {
    const bystander = await WsClient.connect(server, { label: 'bystander' });
    for (const [frame, code] of [
      [maskedFrame(0x1, 'hello', { mask: false }), 1002],
      [maskedFrame(0x1, 'hello', { rsv: 0x40 }), 1002],
      [maskedFrame(0x1, Buffer.from([0xc3, 0x28])), 1007],
      [maskedFrame(0x3, 'x'), 1002],
    ]) {
      const raw = await openRaw();
      raw.socket.write(frame);
      await waitFor(() => raw.state.ended, `the server to close after a violation (${code})`);
      const close = raw.frames().find((f) => f.opcode === 0x8);
      assert.ok(close, `close frame for ${code}`);
      assert.equal(close.payload.readUInt16BE(0), code);
    }
    const j = await bystander.joinOk(uniqueDoc('bystander'));
    assert.equal(j.revision, 1);
    bystander.terminate();
  });

  it('delivers many queued broadcasts in order to a reader that reads late', async () => {
    const doc = uniqueDoc('burst');
    const writer = await WsClient.connect(server, { label: 'burst-writer' });
    const reader = await openRaw();
    reader.socket.write(maskedFrame(0x1, joinMessage(doc, 'r-join')));
    await waitFor(() => reader.frames().length >= 1, 'reader join');
    reader.socket.pause();  // let the server's queue for this reader build up
    let rev = (await writer.joinOk(doc)).revision;
    for (let i = 0; i < 200; i++) rev = await writer.opOk(doc, textOp(I('x')), rev);
    reader.socket.resume();
    await waitFor(() => reader.frames().filter((f) => f.opcode === 0x1).length >= 201, '200 broadcasts');
    const revisions = reader.frames().slice(1).map((f) => JSON.parse(f.payload.toString()))
      .filter((m) => m.messageType === MT.ReceiveOpEvent).map((m) => m.receiveOpEvent.newRevision);
    assert.equal(revisions.length, 200);
    for (let i = 1; i < revisions.length; i++) assert.equal(revisions[i], revisions[i - 1] + 1, 'revision order');
    writer.terminate();
  });
});

describe('server shutdown', () => {
  it('closes WebSockets with 1001 and a reason', async () => {
    const own = await startServer({ label: 'framing-shutdown' });
    try {
      const ws = new WebSocket(`${own.wsBase}/collab-ws`, { perMessageDeflate: false });
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
      // A join answered first: the connection is fully set up on the server. (A shutdown within a
      // few milliseconds of the very first handshake after startup has been seen to close without
      // the 1001 frame on loaded machines; that case is under investigation, see docs/behaviour.md.)
      ws.send(JSON.stringify({ correlationId: 'j', messageType: MT.JoinRequest,
        joinRequest: { documentId: uniqueDoc('shutdown'), documentType: 'text', clientProtoVersion: 1 } }));
      await new Promise((resolve) => ws.once('message', resolve));
      const info = closed(ws);
      await own.stop();
      const { code, reason } = await within(info, 5000, { code: 'none' });
      assert.equal(code, 1001);
      assert.equal(reason, 'Server shutting down');
    } finally {
      if (own.alive) await own.kill9();
    }
  });

  it('a WebSocket whose handshake is under way when shutdown starts is closed with 1001 too', async () => {
    // Shutdown starts as soon as the first of many handshakes completes: the others are then
    // mid-handshake. Any that opens must still get the close frame, never a bare TCP close.
    const own = await startServer({ label: 'framing-shutdown-race' });
    try {
      const sockets = Array.from({ length: 40 }, () => new WebSocket(`${own.wsBase}/collab-ws`, { perMessageDeflate: false }));
      const outcomes = sockets.map((ws) => new Promise((resolve) => {
        let opened = false;
        ws.on('open', () => { opened = true; });
        ws.on('error', () => {});
        ws.on('close', (code) => resolve({ opened, code }));
      }));
      await Promise.race(sockets.map((ws) => new Promise((resolve) => ws.once('open', resolve))));
      await own.stop();
      const results = await within(Promise.all(outcomes), 5000, []);
      assert.equal(results.length, sockets.length, 'every socket closed');
      const opened = results.filter((r) => r.opened);
      assert.ok(opened.length >= 1);
      for (const { code } of opened) assert.equal(code, 1001);
    } finally {
      if (own.alive) await own.kill9();
    }
  });
});
