// gRPC over a TCP connection whose reader stops reading the socket (the HTTP/2 windows stay wide
// open): the server's writes to it must wait for writability without holding up the document,
// and every byte must arrive intact, in order, once the reader drains the socket again. Driven by
// a hand-written HTTP/2 client on a plain socket, because node:http2 cannot pause its socket.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { SharedServer, sleep } from './lib/harness.mjs';
import { uniqueDoc } from './lib/client.mjs';
import { GrpcConnect, closeAllClients, grpc } from './lib/grpc-client.mjs';

// ~13 MB of events: more than the loopback socket buffers take unread (the send buffer grows to
// tcp_wmem's 4 MiB at most, the receive buffer of a reader that never reads stays small).
const OPS = 800;
const CHUNK = 16000;

function h2frame(type, flags, stream, payload) {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}
function literal(nameIndexByte, value) {
  const v = Buffer.from(value);
  return Buffer.concat([nameIndexByte, Buffer.from([v.length]), v]);
}
function hasStreamData(buffer) {
  for (let at = 0; buffer.length - at >= 9; at += 9 + buffer.readUIntBE(at, 3)) {
    if (buffer[at + 3] === 0x0) return true;
  }
  return false;
}
function str(field, s) {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([(field << 3) | 2, b.length]), b]);
}
function joinMessage(cid, doc) {
  const join = Buffer.concat([str(1, doc), str(2, 'text'), Buffer.from([0x18, 0x01])]);
  return Buffer.concat([str(1, cid), Buffer.from([0x12, join.length]), join]);
}
function grpcFrame(message) {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

describe('gRPC backpressure on the socket', () => {
  const shared = new SharedServer({ label: 'grpc-socket-full', env: {
    OPSTREAM__TRANSPORTS: 'grpc', OPSTREAM__SERVER__SENDQUEUELIMITBYTES: 64 << 20 } });
  after(async () => { closeAllClients(); await shared.finish(); });

  test('a reader that stops reading its socket gets every event intact once it reads again', async () => {
    const server = await shared.get();
    const doc = uniqueDoc('grpc-socket-full');
    const port = Number(new URL(server.url).port);
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    let received = Buffer.alloc(0);
    let joined = false;
    socket.on('data', (d) => {
      received = Buffer.concat([received, d]);
      joined ||= hasStreamData(received);
    });
    // Windows wide open (stream: SETTINGS_INITIAL_WINDOW_SIZE, connection: WINDOW_UPDATE), so
    // only the socket can hold the server back.
    const settings = Buffer.alloc(6);
    settings.writeUInt16BE(0x4, 0);
    settings.writeUInt32BE(0x7fffffff, 2);
    const increment = Buffer.alloc(4);
    increment.writeUInt32BE(0x7fffffff - 65535, 0);
    // HPACK: :method POST, :scheme http (static indexed), :authority, :path, content-type
    // (literals with the indexed names 1, 4 and 31), te: trailers (literal, new name).
    const block = Buffer.concat([
      Buffer.from([0x83, 0x86]),
      literal(Buffer.from([0x01]), '127.0.0.1'),
      literal(Buffer.from([0x04]), '/opstream.OpStreamService/Connect'),
      literal(Buffer.from([0x0f, 0x10]), 'application/grpc'),
      literal(Buffer.concat([Buffer.from([0x00, 2]), Buffer.from('te')]), 'trailers'),
    ]);
    socket.write(Buffer.concat([
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      h2frame(0x4, 0, 0, settings),
      h2frame(0x8, 0, 0, increment),
      h2frame(0x1, 0x4, 1, block),
      h2frame(0x0, 0, 1, grpcFrame(joinMessage('j', doc))),
    ]));
    // Wait for the join answer, then stop reading the socket.
    for (let i = 0; i < 100 && !joined; i++) await sleep(20);
    assert.ok(joined, 'no answer to the join');
    await sleep(100);
    socket.pause();
    const before = received.length;

    const writer = new GrpcConnect(server, { label: 'writer' });
    let revision = (await writer.join('j', doc)).joinResponse.revision;
    const chunk = 'y'.repeat(CHUNK);
    for (let i = 0; i < OPS; i++) {
      // The document must not wait for the stalled reader: every op is acknowledged.
      // Each op replaces the whole text, so the document stays small while the events are large.
      const components = i === 0 ? [{ type: 'insert', text: chunk }] : [{ type: 'insert', text: chunk }, { type: 'delete', count: CHUNK }];
      const ack = await writer.op(`o-${i}`, doc, { components }, revision);
      assert.equal(ack.opResponse.success, true, `op ${i}`);
      revision = ack.opResponse.newRevision;
    }
    assert.equal(received.length, before, 'the paused socket was read');

    socket.resume();
    // Parse the HTTP/2 frames as they arrive; count the gRPC messages of stream 1.
    let offset = 0;
    let body = Buffer.alloc(0);
    let messages = 0;
    let eventBytes = 0;
    const deadline = Date.now() + 20000;
    while (messages < OPS + 1 && Date.now() < deadline) {
      while (received.length - offset >= 9) {
        const length = received.readUIntBE(offset, 3);
        if (received.length - offset < 9 + length) break;
        const type = received[offset + 3];
        const flags = received[offset + 4];
        const stream = received.readUInt32BE(offset + 5) & 0x7fffffff;
        const payload = received.subarray(offset + 9, offset + 9 + length);
        offset += 9 + length;
        assert.notEqual(type, 0x3, `RST_STREAM from the server, stream ${stream} code ${length === 4 ? payload.readUInt32BE(0) : -1} at ${offset} of ${before}`);
        assert.notEqual(type, 0x7, 'GOAWAY from the server');
        if (type === 0x4 && (flags & 0x1) === 0) socket.write(h2frame(0x4, 0x1, 0, Buffer.alloc(0)));
        if (type !== 0x0 || stream !== 1) continue;
        body = Buffer.concat([body, payload]);
        while (body.length >= 5 && body.length >= 5 + body.readUInt32BE(1)) {
          const size = body.readUInt32BE(1);
          assert.equal(body[0], 0, 'compressed flag on a response message');
          if (messages > 0) eventBytes += size;
          messages += 1;
          body = body.subarray(5 + size);
        }
      }
      await sleep(10);
    }
    assert.equal(messages, OPS + 1, 'join answer plus one receive_op_event per op');
    // Each event carries its op's payload (the inserted text) and a little framing.
    assert.ok(eventBytes > OPS * CHUNK, `event bytes ${eventBytes}`);
    assert.equal(body.length, 0, 'a partial message at the end');
    socket.destroy();
    assert.equal((await writer.end()).code, grpc.status.OK);
  });
});
