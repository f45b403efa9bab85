// HTTP surface of the host: server.md §1.7 (endpoint map, health responses),
// wire-protocol.md Appendix A and §4.1 (plain request to the socket path).

import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { SharedServer, httpRequest, makeTempDir, runBinarySync, startServer } from './lib/harness.mjs';

function assertHealthHeaders(res, what) {
  assert.equal(res.headers['cache-control'], 'no-store, no-cache', `${what}: Cache-Control`);
  assert.equal(res.headers.pragma, 'no-cache', `${what}: Pragma`);
  assert.equal(res.headers.expires, 'Thu, 01 Jan 1970 00:00:00 GMT', `${what}: Expires`);
}

function assertTextPlain(res, what) {
  const ct = res.headers['content-type'] || '';
  assert.match(ct, /^text\/plain(;|$)/, `${what}: Content-Type should be text/plain, got ${JSON.stringify(ct)}`);
}

describe('HTTP endpoints with memory storage', () => {
  let server;
  const shared = new SharedServer({ label: 'http-memory' });
  beforeEach(async () => { server = await shared.get(); });
  after(async () => { await shared.finish(); });

  it('GET / answers the host info line as text/plain', async () => {
    const res = await httpRequest(`${server.url}/`);
    assert.equal(res.status, 200);
    assertTextPlain(res, 'GET /');
    assert.equal(res.body, 'OpStream host. Storage=memory, Backplane=local, Transports=websockets');
  });

  it('GET /health answers 200 Degraded with the no-cache headers (memory store is Degraded)', async () => {
    const res = await httpRequest(`${server.url}/health`);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'Degraded');
    assertTextPlain(res, '/health');
    assertHealthHeaders(res, '/health');
  });

  it('GET /health/ready answers 200 Degraded with the no-cache headers', async () => {
    const res = await httpRequest(`${server.url}/health/ready`);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'Degraded');
    assertTextPlain(res, '/health/ready');
    assertHealthHeaders(res, '/health/ready');
  });

  it('GET /health/live answers 200 Healthy', async () => {
    const res = await httpRequest(`${server.url}/health/live`);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'Healthy');
    assertTextPlain(res, '/health/live');
    assertHealthHeaders(res, '/health/live');
  });

  it('health endpoints answer any method (POST /health/live, POST /health)', async () => {
    const live = await httpRequest(`${server.url}/health/live`, { method: 'POST', body: '' });
    assert.equal(live.status, 200);
    assert.equal(live.body, 'Healthy');
    const all = await httpRequest(`${server.url}/health`, { method: 'POST', body: '' });
    assert.equal(all.status, 200);
    assert.equal(all.body, 'Degraded');
  });

  it('an unknown path answers 404 with an empty body', async () => {
    for (const p of ['/nope', '/collab-ws/extra', '/health/unknown', '/manage-wss']) {
      const res = await httpRequest(`${server.url}${p}`);
      assert.equal(res.status, 404, `GET ${p}`);
      assert.equal(res.body, '', `GET ${p} body`);
    }
  });

  it('POST / and DELETE / answer 405', async () => {
    const post = await httpRequest(`${server.url}/`, { method: 'POST', body: 'x', headers: { 'Content-Type': 'text/plain' } });
    assert.equal(post.status, 405, 'POST /');
    const del = await httpRequest(`${server.url}/`, { method: 'DELETE' });
    assert.equal(del.status, 405, 'DELETE /');
  });

  it('a plain GET to /collab-ws without an upgrade answers 400 with an empty body', async () => {
    const res = await httpRequest(`${server.url}/collab-ws`);
    assert.equal(res.status, 400);
    assert.equal(res.body, '');
  });

  it('several requests on one keep-alive connection are all answered', async () => {
    const raw = await new Promise((resolve, reject) => {
      const sock = net.connect(server.port, '127.0.0.1');
      let data = '';
      sock.setEncoding('utf8');
      sock.on('data', (d) => { data += d; });
      sock.on('end', () => resolve(data));
      sock.on('error', reject);
      sock.setTimeout(5000, () => { sock.destroy(); reject(new Error(`keep-alive test timed out; got so far: ${JSON.stringify(data)}`)); });
      sock.write('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET / HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '200', '200'], `responses: ${JSON.stringify(raw)}`);
    assert.ok(raw.includes('OpStream host. Storage=memory'), 'second response is the info line');
  });

  it('`opstream-server --probe <url>` exits 0 for /health/live and non-zero otherwise', () => {
    const ok = runBinarySync(['--probe', `${server.url}/health/live`]);
    assert.equal(ok.status, 0, `probe of /health/live: status ${ok.status}, signal ${ok.signal}, stdout ${ok.stdout}, stderr ${ok.stderr}`);
    const notFound = runBinarySync(['--probe', `${server.url}/does-not-exist`]);
    assert.notEqual(notFound.status, 0, 'probe of a 404 path must fail');
  });

  it('`--probe` to a port where nothing listens exits non-zero', async () => {
    const port = await new Promise((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    });
    const r = runBinarySync(['--probe', `http://127.0.0.1:${port}/health/live`]);
    assert.notEqual(r.status, 0, `probe of a closed port: status ${r.status}, signal ${r.signal}`);
    assert.equal(r.signal, null, 'probe should exit by itself, not be killed by the timeout');
  });
});

describe('HTTP endpoints with sqlite storage', () => {
  let server;
  before(async () => {
    const dir = makeTempDir();
    server = await startServer({
      label: 'http-sqlite',
      cwd: dir,
      env: {
        OPSTREAM__STORAGE__PROVIDER: 'sqlite',
        OPSTREAM__STORAGE__CONNECTIONSTRING: `Data Source=${path.join(dir, 'opstream.db')}`,
      },
    });
  });
  after(async () => {
    if (!server) return;
    server.assertNotCrashed();
    await server.stop();
  });

  it('GET /health/ready and /health answer 200 Healthy', async () => {
    for (const p of ['/health/ready', '/health']) {
      const res = await httpRequest(`${server.url}${p}`);
      assert.equal(res.status, 200, p);
      assert.equal(res.body, 'Healthy', p);
      assertHealthHeaders(res, p);
    }
  });

  it('GET / reports Storage=sqlite', async () => {
    const res = await httpRequest(`${server.url}/`);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'OpStream host. Storage=sqlite, Backplane=local, Transports=websockets');
  });
});

describe('HTTP/2 with prior knowledge on the same port (server.md §1.6, SV-27)', () => {
  let server;
  const shared = new SharedServer({ label: 'http2' });
  beforeEach(async () => { server = await shared.get(); });
  after(async () => { await shared.finish(); });

  function h2Request(headers, body) {
    return new Promise((resolve, reject) => {
      const session = http2.connect(server.url);
      session.on('error', reject);
      const req = session.request(headers);
      const chunks = [];
      let responseHeaders = null;
      let trailers = {};
      req.on('response', (h) => { responseHeaders = h; });
      req.on('trailers', (t) => { trailers = t; });
      req.on('data', (c) => chunks.push(c));
      req.on('error', reject);
      req.on('end', () => {
        session.close();
        resolve({ headers: responseHeaders, trailers, body: Buffer.concat(chunks).toString('utf8') });
      });
      if (body) req.end(body); else req.end();
    });
  }

  it('plain requests are answered exactly as over HTTP/1.1', async () => {
    const live = await h2Request({ ':path': '/health/live' });
    assert.equal(live.headers[':status'], 200);
    assert.equal(live.body, 'Healthy');
    const health = await h2Request({ ':path': '/health' });
    assert.equal(health.body, 'Degraded');
    assert.equal(health.headers['cache-control'], 'no-store, no-cache');
    const missing = await h2Request({ ':path': '/nope' });
    assert.equal(missing.headers[':status'], 404);
  });

  it('several streams on one connection, and HTTP/1.1 still works on the same port', async () => {
    const session = http2.connect(server.url);
    const one = (p) => new Promise((resolve, reject) => {
      const req = session.request({ ':path': p });
      let status = 0;
      let text = '';
      req.on('response', (h) => { status = h[':status']; });
      req.on('data', (c) => { text += c; });
      req.on('end', () => resolve({ status, text }));
      req.on('error', reject);
      req.end();
    });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => one(i % 2 ? '/health/live' : '/')));
    session.close();
    for (const [i, r] of results.entries()) {
      assert.equal(r.status, 200);
      assert.equal(r.text, i % 2 ? 'Healthy' : 'OpStream host. Storage=memory, Backplane=local, Transports=websockets');
    }
    const plain = await httpRequest(`${server.url}/health/live`);
    assert.equal(plain.body, 'Healthy');
  });

  it('a gRPC call gets a clean UNIMPLEMENTED status until the gRPC transport is enabled', async () => {
    const res = await h2Request({ ':method': 'POST', ':path': '/opstream.OpStreamService/Connect', 'content-type': 'application/grpc', te: 'trailers' },
      Buffer.from([0, 0, 0, 0, 0]));
    assert.equal(res.headers[':status'], 200);
    assert.equal(res.headers['grpc-status'], '12');
    assert.ok(res.headers['grpc-message']);
  });

  it('garbage after the preface closes only that connection', async () => {
    await new Promise((resolve) => {
      const sock = net.connect(Number(new URL(server.url).port), '127.0.0.1', () => {
        sock.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
        sock.write(Buffer.alloc(64, 0xff));
      });
      sock.on('close', resolve);
      sock.on('error', () => {});
      sock.resume();
    });
    const live = await httpRequest(`${server.url}/health/live`);
    assert.equal(live.body, 'Healthy');
  });
});
