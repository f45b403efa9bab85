// Multi-node clusters (server.md §4): three server processes share PostgreSQL and a Redis
// backplane; clients on every node edit one document and converge, presence crosses nodes, the
// owner is killed with SIGKILL under load and the document is served again by another node with
// every acknowledged op, and a Redis restart is survived with /health/ready showing the outage.
// Needs the PostgreSQL and Redis of the test run (scripts/test-services.sh); never skips.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { TEST_DIR, httpRequest, makeTempDir, sleep, startServer, within } from './lib/harness.mjs';
import { I, MT, WsClient, textOp, uniqueDoc } from './lib/client.mjs';
import { OtTextClient, runRandomEditing } from './lib/ot-client.mjs';
import { seedFromEnv } from './lib/text-ot.mjs';
import { SrOtClient } from './signalr-client.mjs';

const SEED = seedFromEnv();

function requiredEnv(name) {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run through scripts/test.sh, or `
    + '`source scripts/test-services.sh; start_test_services` first');
  return value;
}

function clusterEnv(redis = requiredEnv('OPSTREAM_TEST_REDIS_URL'), extra = {}) {
  return {
    OPSTREAM__TRANSPORTS: 'signalr,websockets',
    OPSTREAM__STORAGE__PROVIDER: 'postgres',
    OPSTREAM__STORAGE__CONNECTIONSTRING: requiredEnv('OPSTREAM_TEST_POSTGRES_URL'),
    OPSTREAM__BACKPLANE__PROVIDER: 'redis',
    OPSTREAM__BACKPLANE__CONNECTIONSTRING: `${redis},connectTimeout=2000`,
    ...extra,
  };
}

async function startCluster(label, count = 3, env = clusterEnv()) {
  const nodes = [];
  for (let i = 0; i < count; i++) nodes.push(await startServer({ label: `${label}-n${i}`, env }));
  return nodes;
}

async function stopAll(nodes) {
  await Promise.all(nodes.filter((n) => n.alive).map((n) => n.stop()));
}

async function waitFor(what, predicate, ms = 15000) {
  const until = Date.now() + ms;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > until) throw new Error(`${what} within ${ms} ms`);
    await sleep(50);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * Debian's nginx with deploy/nginx.conf in front of `nodes`: the upstream servers and the listen
 * port are rewritten for 127.0.0.1, everything else (ip_hash, upgrade headers, read timeout) is
 * the shipped file. It runs as an unprivileged user with its own prefix, pid and temp dirs.
 */
async function startNginx(nodes) {
  const dir = makeTempDir('opstream-nginx-');
  fs.chmodSync(dir, 0o777);
  const port = await freePort();
  let conf = fs.readFileSync(path.resolve(TEST_DIR, '../../deploy/nginx.conf'), 'utf8');
  const upstreams = nodes.map((n) => `    server ${new URL(n.url).host};`).join('\n');
  conf = conf.replace(/(\s*server opstream-\d:8080;)+/, `\n${upstreams}`);
  conf = conf.replace('listen 80;', `listen 127.0.0.1:${port};`);
  assert.ok(conf.includes('ip_hash;') && conf.includes(`127.0.0.1:${port}`), conf);
  // Temp paths and logs inside the prefix (the defaults under /var need root).
  conf = conf.replace('http {', `http {\n  access_log off;\n${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((k) => `  ${k}_temp_path ${dir}/${k};`).join('\n')}`);
  const confFile = path.join(dir, 'nginx.conf');
  fs.writeFileSync(confFile, conf);
  fs.chmodSync(confFile, 0o644);
  const args = ['-p', dir, '-c', confFile, '-e', `${dir}/error.log`,
    '-g', `daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;`];
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const proc = asRoot
    ? spawn('runuser', ['-u', 'nobody', '--', '/usr/sbin/nginx', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn('/usr/sbin/nginx', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((r) => proc.on('exit', r));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`nginx answers (${stderr})`, async () => {
    try { return (await httpRequest(`${url}/health/live`)).status === 200; } catch { return false; }
  }, 10000);
  return {
    url,
    wsBase: `ws://127.0.0.1:${port}`,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

describe(`cluster of three nodes on PostgreSQL and Redis (seed ${SEED})`, () => {
  it('starts as a cluster: startup report, readiness includes the backplane', { timeout: 60000 }, async () => {
    const nodes = await startCluster('boot', 1);
    try {
      assert.match(nodes[0].output, /OpStream backplane: RedisBackplane/);
      assert.doesNotMatch(nodes[0].output, /single-node mode/);
      const ready = await httpRequest(`${nodes[0].url}/health/ready`);
      assert.equal(ready.status, 200);
    } finally {
      await stopAll(nodes);
    }
  });

  it('clients on every node edit one document and converge; every op arrives once, in order', { timeout: 120000 }, async (t) => {
    t.diagnostic(`seed=${SEED}`);
    const nodes = await startCluster('converge');
    const doc = uniqueDoc('cluster-converge');
    try {
      const clients = [];
      for (let i = 0; i < 6; i++) {
        clients.push(await OtTextClient.connectAndJoin(nodes[i % 3], doc, { label: `c${i}@n${i % 3}` }));
      }
      const target = await runRandomEditing(clients, { seed: SEED, opsPerClient: 30, maxDelayMs: 5 });
      const text = clients[0].doc;
      for (const c of clients) {
        assert.equal(c.doc, text, `seed=${SEED}: ${c.label} converges`);
        // R1–R3: revisions strictly increasing without gaps from the join on.
        const seen = c.revisionsSeen.filter((r) => r > c.joinRevision);
        for (let k = 1; k < seen.length; k++) assert.ok(seen[k] >= seen[k - 1], `${c.label}: revisions in order`);
      }
      for (const node of nodes) {
        const v = await WsClient.connect(node, { label: 'verify' });
        const j = await v.joinOk(doc);
        assert.equal(j.revision, target, `seed=${SEED}: revision on ${node.url}`);
        assert.equal(j.snapshot.content, text, `seed=${SEED}: text on ${node.url}`);
        v.terminate();
      }
      for (const c of clients) c.terminate();
      for (const node of nodes) node.assertNotCrashed();
    } finally {
      await stopAll(nodes);
    }
  });

  it('through nginx (ip_hash) and directly to every node: SignalR and raw WebSocket clients converge', { timeout: 120000 }, async (t) => {
    t.diagnostic(`seed=${SEED}`);
    const nodes = await startCluster('nginx');
    const proxy = await startNginx(nodes);
    const doc = uniqueDoc('cluster-nginx');
    try {
      const clients = [
        await SrOtClient.connectAndJoin(proxy, doc, { label: 'signalr@nginx' }),
        await OtTextClient.connectAndJoin(proxy, doc, { label: 'ws@nginx' }),
      ];
      for (let i = 0; i < 3; i++) {
        clients.push(await OtTextClient.connectAndJoin(nodes[i], doc, { label: `ws@n${i}` }));
        clients.push(await SrOtClient.connectAndJoin(nodes[i], doc, { label: `signalr@n${i}` }));
      }
      const target = await runRandomEditing(clients, { seed: SEED, opsPerClient: 15, maxDelayMs: 5 });
      for (const c of clients) assert.equal(c.doc, clients[0].doc, `seed=${SEED}: ${c.label} converges`);
      const v = await WsClient.connect(proxy, { label: 'verify@nginx' });
      const j = await v.joinOk(doc);
      assert.equal(j.revision, target);
      assert.equal(j.snapshot.content, clients[0].doc);
      v.terminate();
      for (const c of clients) c.terminate();
      for (const n of nodes) n.assertNotCrashed();
    } finally {
      await proxy.stop();
      await stopAll(nodes);
    }
  });

  it('presence and departures cross nodes', { timeout: 60000 }, async () => {
    const nodes = await startCluster('presence', 2);
    const doc = uniqueDoc('cluster-presence');
    try {
      const a = await WsClient.connect(nodes[0], { label: 'a' });
      const b = await WsClient.connect(nodes[1], { label: 'b' });
      await a.joinOk(doc);
      await b.joinOk(doc);
      b.awareness(doc, { cursor: 7 });
      const seen = await a.next((m) => m.messageType === MT.ReceiveAwarenessEvent, { what: 'awareness from node 2' });
      const state = seen.receiveAwarenessEvent.awareness[0];
      assert.deepEqual(state.data, { cursor: 7 });
      await b.close();
      const left = await a.next((m) => m.messageType === MT.PeerDisconnectedEvent, { what: 'peer departure from node 2' });
      assert.equal(left.peerDisconnectedEvent.peerId, state.peerId);
      a.terminate();
    } finally {
      await stopAll(nodes);
    }
  });

  it('owner killed with SIGKILL under load: another node serves the document with every acknowledged op', { timeout: 120000 }, async (t) => {
    const nodes = await startCluster('failover');
    const docs = Array.from({ length: 4 }, (_, i) => uniqueDoc(`cluster-failover-${i}`));
    try {
      // Node 0 becomes the owner of every document: it is the first to join them.
      for (const doc of docs) {
        const c = await WsClient.connect(nodes[0], { label: 'opener' });
        await c.joinOk(doc);
        c.terminate();
      }
      const acked = new Array(docs.length).fill(0);
      let stop = false;
      const writers = docs.map(async (doc, i) => {
        const node = nodes[1 + (i % 2)];
        const c = await WsClient.connect(node, { label: `w${i}` });
        let revision = (await c.joinOk(doc)).revision;
        try {
          for (let n = 0; !stop; n++) {
            revision = await c.opOk(doc, n === 0 ? textOp(I('0')) : textOp({ type: 'retain', count: n }, I(`${n % 10}`)), revision);
            acked[i] = n + 1;
          }
        } catch {
          // the owner died with this op in flight
        }
        c.terminate();
      });
      // A client of the node about to die.
      const victim = await WsClient.connect(nodes[0], { label: 'victim' });
      await victim.joinOk(docs[1]);
      await sleep(1500);
      await nodes[0].kill9();
      const killedAt = Date.now();
      // A client of a surviving node joins as soon as the owner is gone, while the writers' ops
      // that were in flight at the kill are still unanswered.
      let servedAfter = null;
      await waitFor('the document is served again', async () => {
        const c = await WsClient.connect(nodes[1], { label: 'rejoin' });
        try {
          const res = await c.join(docs[0]);
          if (res.joinResponse) { servedAfter = Date.now() - killedAt; return true; }
          return false;
        } finally {
          c.terminate();
        }
      }, 20000);
      stop = true;
      await Promise.all(writers);
      const total = acked.reduce((a, b) => a + b, 0);
      assert.ok(total >= 40, `ops were acknowledged before the kill (${total})`);
      // The dead node's client sees its connection drop, reconnects elsewhere and rejoins.
      await within(victim.closed, 5000);
      assert.ok(victim.closeInfo, 'the client of the killed node is disconnected');
      const reconnected = await WsClient.connect(nodes[2], { label: 'victim-again' });
      const rejoined = await reconnected.joinOk(docs[1]);
      assert.ok(rejoined.revision >= 1 + acked[1], `rejoin sees every acknowledged op (${rejoined.revision})`);
      reconnected.terminate();
      t.diagnostic(`acknowledged before the kill: ${total} ops (${acked.join(', ')}); served again after ${servedAfter} ms`);
      assert.ok(servedAfter < 12000, `failover took ${servedAfter} ms`);
      for (let i = 0; i < docs.length; i++) {
        const v = await WsClient.connect(nodes[1 + (i % 2)], { label: `verify${i}` });
        const j = await v.joinOk(docs[i]);
        const stored = j.revision - 1;
        assert.ok(stored === acked[i] || stored === acked[i] + 1, `doc ${i}: ${acked[i]} acknowledged, ${stored} stored`);
        const expected = Array.from({ length: stored }, (_, n) => `${n % 10}`).join('');
        assert.equal(j.snapshot.content, expected, `doc ${i}: text after failover`);
        // and it accepts new ops
        assert.equal(await v.opOk(docs[i], textOp({ type: 'retain', count: stored }, I('!')), j.revision), j.revision + 1);
        v.terminate();
      }
      nodes[1].assertNotCrashed();
      nodes[2].assertNotCrashed();
    } finally {
      await stopAll(nodes);
    }
  });

  it('Redis restart: readiness shows the outage, nodes recover by themselves', { timeout: 90000 }, async () => {
    const dir = makeTempDir('opstream-bp-redis-');
    const port = await freePort();
    let redis = null;
    const startRedis = async () => {
      redis = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no',
        '--dir', dir], { stdio: 'ignore' });
      for (let i = 0; i < 200; i++) {
        if (spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG') return;
        await sleep(25);
      }
      throw new Error('redis-server did not start');
    };
    const stopRedis = async () => {
      const exited = new Promise((r) => redis.on('exit', r));
      redis.kill('SIGTERM');
      await exited;
    };
    await startRedis();
    const nodes = await startCluster('redis-restart', 2, clusterEnv(`127.0.0.1:${port},syncTimeout=1000`));
    const doc = uniqueDoc('cluster-redis-restart');
    try {
      for (const n of nodes) assert.equal((await httpRequest(`${n.url}/health/ready`)).status, 200);
      await stopRedis();
      for (const n of nodes) {
        await waitFor('readiness 503 while Redis is down', async () => (await httpRequest(`${n.url}/health/ready`)).status === 503);
      }
      await startRedis();
      for (const n of nodes) {
        await waitFor('readiness 200 after Redis is back', async () => (await httpRequest(`${n.url}/health/ready`)).status === 200);
      }
      const a = await WsClient.connect(nodes[0], { label: 'a' });
      const b = await WsClient.connect(nodes[1], { label: 'b' });
      await a.joinOk(doc);
      await b.joinOk(doc);
      assert.equal(await b.opOk(doc, textOp(I('x')), 1), 2);
      const event = await a.next((m) => m.messageType === MT.ReceiveOpEvent, { what: 'the op of node 2' });
      assert.equal(event.receiveOpEvent.newRevision, 2);
      a.terminate();
      b.terminate();
    } finally {
      await stopAll(nodes);
      if (redis && redis.exitCode === null) await stopRedis();
    }
  });

  it('memory storage with the Redis backplane is warned about at startup (SV-38)', { timeout: 30000 }, async () => {
    const s = await startServer({
      label: 'sv38',
      env: {
        OPSTREAM__BACKPLANE__PROVIDER: 'redis',
        OPSTREAM__BACKPLANE__CONNECTIONSTRING: requiredEnv('OPSTREAM_TEST_REDIS_URL'),
      },
    });
    try {
      assert.match(s.output, /Memory storage with the Redis backplane/);
    } finally {
      await s.stop();
    }
  });
});
