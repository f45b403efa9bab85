// gRPC at the HTTP/2 level with node:http2 (no gRPC library): the exact response shape of
// wire-protocol §5.1 / §8.3 — trailers-only errors, percent-encoded grpc-message, messages split
// across DATA frames, truncated and flagged-compressed requests.

import { after, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { SharedServer } from './lib/harness.mjs';
import { uniqueDoc } from './lib/client.mjs';

// Minimal protobuf writer for ClientMessage.join_request (field numbers of §5.3).
function str(field, s) {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([(field << 3) | 2, b.length]), b]);
}
function joinMessage(cid, doc) {
  const join = Buffer.concat([str(1, doc), str(2, 'text'), Buffer.from([0x18, 0x01])]);
  return Buffer.concat([str(1, cid), Buffer.from([0x12, join.length]), join]);
}
function frame(message, flag = 0) {
  const prefix = Buffer.alloc(5);
  prefix[0] = flag;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

// One call: writes `chunks` (each as its own DATA frame, with a pause between), optionally
// half-closes, collects response headers, body and trailers.
function call(server, path, chunks, { end = true, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(server.url);
    session.on('error', reject);
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    const result = { headers: null, trailers: null, body: Buffer.alloc(0) };
    req.on('response', (h) => { result.headers = h; });
    req.on('trailers', (t) => { result.trailers = t; });
    req.on('data', (d) => { result.body = Buffer.concat([result.body, d]); });
    req.on('end', () => { session.close(); resolve(result); });
    req.on('error', reject);
    (async () => {
      for (const c of chunks) {
        req.write(c);
        await new Promise((r) => setTimeout(r, 20));
      }
      if (end) req.end();
    })();
  });
}

describe('gRPC on the wire', () => {
  const shared = new SharedServer({ label: 'grpc-wire', env: { OPSTREAM__TRANSPORTS: 'grpc' } });
  let server;
  beforeEach(async () => { server = await shared.get(); });
  after(() => shared.finish());

  test('management error is trailers-only with the exact §8.3 headers', async () => {
    const r = await call(server, '/opstream.OpStreamManagementService/ListDocuments', [frame(Buffer.alloc(0))]);
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.equal(r.headers['grpc-status'], '7');
    assert.equal(r.headers['grpc-message'], 'Forbidden: Insufficient permissions for this operation.');
    assert.equal(r.trailers, null); // a single HEADERS frame
    assert.equal(r.body.length, 0);
  });

  test('a join split inside its prefix and body across DATA frames; answer bytes of §8.3', async () => {
    const bytes = frame(joinMessage('c-1', uniqueDoc('wire')));
    const r = await call(server, '/opstream.OpStreamService/Connect', [bytes.subarray(0, 2), bytes.subarray(2, 9), bytes.subarray(9)]);
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.equal(r.trailers['grpc-status'], '0');
    // 00 00 00 00 19 | 0a 03 "c-1" 12 12 08 01 12 0e {"content":""}
    assert.equal(r.body.toString('hex'), '0000000019' + '0a03632d31' + '1212' + '0801' + '120e' + Buffer.from('{"content":""}').toString('hex'));
  });

  test('a request cut inside a message fails with INTERNAL', async () => {
    const bytes = frame(joinMessage('c-1', uniqueDoc('wire')));
    const r = await call(server, '/opstream.OpStreamService/Connect', [bytes.subarray(0, bytes.length - 3)]);
    const status = (r.trailers || r.headers)['grpc-status'];
    assert.equal(status, '13');
  });

  test('a compressed flag without grpc-encoding is UNIMPLEMENTED; an unknown encoding too', async () => {
    const r = await call(server, '/opstream.OpStreamService/Connect', [frame(joinMessage('c', 'd'), 1)]);
    assert.equal((r.trailers || r.headers)['grpc-status'], '12');
    const s = await call(server, '/opstream.OpStreamService/Connect', [frame(joinMessage('c', 'd'))], { headers: { 'grpc-encoding': 'snappy' } });
    assert.equal(s.headers['grpc-status'], '12');
  });

  test('an oversized prefix fails with RESOURCE_EXHAUSTED before the body is sent', async () => {
    const prefix = Buffer.from([0, 0, 0x40, 0, 1]);
    const r = await call(server, '/opstream.OpStreamService/Connect', [prefix], { end: false });
    const t = r.trailers || r.headers;
    assert.equal(t['grpc-status'], '8');
    assert.equal(t['grpc-message'], 'Received message larger than max (4194305 vs. 4194304)');
  });

  test('a call answered before the client finished sending is reset with NO_ERROR', async () => {
    // The client never half-closes: the server answers UNIMPLEMENTED, then RST_STREAM NO_ERROR
    // frees the stream (otherwise it would stay half-open until the connection closes).
    const session = http2.connect(server.url);
    const req = session.request({ ':method': 'POST', ':path': '/opstream.OpStreamService/Missing', 'content-type': 'application/grpc' });
    const headers = await new Promise((resolve) => req.on('response', resolve));
    assert.equal(headers['grpc-status'], '12');
    await new Promise((resolve) => req.on('close', resolve));
    assert.equal(req.rstCode, http2.constants.NGHTTP2_NO_ERROR);
    const closed = new Promise((resolve) => session.close(resolve));
    await closed;
  });
});
