// The server on Redis storage (server.md §3.7): several clients edit, the server restarts,
// everything is there; kill -9 under a write load loses no acknowledged op. Needs the Redis of the
// test run (scripts/test-services.sh exports OPSTREAM_TEST_REDIS_URL as host:port); without it
// these tests fail, they never skip. Documents have unique ids, so runs can share the server.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { httpRequest, makeTempDir, runExpectingExit, startServer, sleep } from './lib/harness.mjs';
import { assertKillDuringWriteLoadLosesNothing, joinFresh } from './lib/durability.mjs';
import { I, R, WsClient, textOp, uniqueDoc } from './lib/client.mjs';
import { OtTextClient, runRandomEditing } from './lib/ot-client.mjs';
import { seedFromEnv } from './lib/text-ot.mjs';

const SEED = seedFromEnv();

function redisUrl() {
  const url = process.env.OPSTREAM_TEST_REDIS_URL;
  assert.ok(url, 'OPSTREAM_TEST_REDIS_URL is not set: run through scripts/test.sh, or '
    + '`source scripts/test-services.sh; start_test_services` first');
  return url;
}

function redisEnv() {
  return {
    OPSTREAM__STORAGE__PROVIDER: 'redis',
    OPSTREAM__STORAGE__CONNECTIONSTRING: `${redisUrl()},abortConnect=true,connectTimeout=2000`,
  };
}

/** redis-cli against the test server; returns stdout lines. */
function redisCli(...args) {
  const [host, port] = redisUrl().split(':');
  const res = spawnSync('redis-cli', ['-h', host, '-p', port, '--raw', ...args], { encoding: 'utf8' });
  assert.equal(res.status, 0, `redis-cli ${args.join(' ')}: ${res.stderr}`);
  return res.stdout.split('\n').filter((l) => l.length > 0);
}

/** A private redis-server (append-only file, fsync always) that this test may stop and restart. */
class PrivateRedis {
  constructor() {
    this.dir = makeTempDir('opstream-redis-');
    this.port = null;
    this.proc = null;
  }

  async start() {
    if (this.port === null) this.port = await freePort();
    this.proc = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(this.port), '--save', '',
      '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir], { stdio: 'ignore' });
    this.exited = new Promise((resolve) => this.proc.on('exit', resolve));
    for (let i = 0; i < 200; i++) {
      if (spawnSync('redis-cli', ['-p', String(this.port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG') return;
      await sleep(25);
    }
    throw new Error('private redis-server did not start');
  }

  async stop() {
    if (!this.proc) return;
    this.proc.kill('SIGTERM');
    await this.exited;
    this.proc = null;
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

async function waitFor(what, predicate, ms = 10000) {
  const until = Date.now() + ms;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > until) throw new Error(`${what} within ${ms} ms`);
    await sleep(100);
  }
}

describe(`redis storage (seed ${SEED})`, () => {
  it('Redis going away at run time: ops fail clearly, readiness turns 503, both recover when it is back', { timeout: 90000 }, async () => {
    const redis = new PrivateRedis();
    await redis.start();
    const doc = uniqueDoc('redis-outage');
    const env = {
      OPSTREAM__STORAGE__PROVIDER: 'redis',
      OPSTREAM__STORAGE__CONNECTIONSTRING: `127.0.0.1:${redis.port},syncTimeout=2000`,
    };
    let s = await startServer({ label: 'redis-outage', env });
    try {
      assert.equal((await httpRequest(`${s.url}/health/ready`)).status, 200);
      const c = await WsClient.connect(s, { label: 'writer' });
      await c.joinOk(doc);
      assert.equal(await c.opOk(doc, textOp(I('a')), 1), 2);

      await redis.stop();
      const res = await c.op(doc, textOp(R(1), I('b')), 2);
      assert.equal(res.opResponse.success, false, 'an op while Redis is down fails');
      assert.equal(res.opResponse.newRevision, 2);
      assert.match(res.opResponse.errorMessage, /Redis/, `error names Redis: ${res.opResponse.errorMessage}`);
      await waitFor('readiness 503 while Redis is down',
        async () => (await httpRequest(`${s.url}/health/ready`)).status === 503);

      await redis.start();
      await waitFor('readiness 200 after Redis is back',
        async () => (await httpRequest(`${s.url}/health/ready`)).status === 200);
      // The client resends the refused op; it is committed now.
      assert.equal(await c.opOk(doc, textOp(R(1), I('b')), 2), 3);
      c.terminate();
      s.assertNotCrashed();
    } finally {
      await s.stop();
    }
    s = await startServer({ label: 'redis-outage-2', env });
    try {
      const j = await joinFresh(s, doc);
      assert.equal(j.revision, 3);
      assert.equal(j.snapshot.content, 'ab');
    } finally {
      await s.stop();
      await redis.stop();
    }
  });

  it('three clients edit, the server restarts, every op is there and the keys are the reference\'s', { timeout: 90000 }, async (t) => {
    t.diagnostic(`seed=${SEED}`);
    const env = redisEnv();
    const doc = uniqueDoc('redis-edit');
    let s = await startServer({ label: 'redis-1', env });
    let target;
    let text;
    try {
      assert.match(s.output, /RedisDocumentStore/, 'startup report names the store');
      const clients = [];
      for (let i = 0; i < 3; i++) clients.push(await OtTextClient.connectAndJoin(s, doc, { label: `rc${i}` }));
      target = await runRandomEditing(clients, { seed: SEED, opsPerClient: 50, maxDelayMs: 3 });
      text = clients[0].doc;
      for (const c of clients) assert.equal(c.doc, text, `seed=${SEED}: clients converge`);
      for (const c of clients) c.terminate();
    } finally {
      await s.stop();
    }
    // What the server left in Redis: a stream of ops and (after 150 ops) a snapshot string.
    const keys = redisCli('--scan', '--pattern', `doc:*${doc}*`).sort();
    assert.equal(keys.length, 2, `keys for ${doc}: ${keys.join(', ')}`);
    assert.match(keys[0], /^doc:.*:ops$/);
    assert.match(keys[1], /^doc:.*:snapshot$/);
    assert.deepEqual(redisCli('TYPE', keys[0]), ['stream']);
    assert.deepEqual(redisCli('TYPE', keys[1]), ['string']);
    const snapshot = JSON.parse(redisCli('GET', keys[1]).join('\n'));
    assert.deepEqual(Object.keys(snapshot), ['revision', 'timestamp', 'state']);

    s = await startServer({ label: 'redis-2', env });
    try {
      const j = await joinFresh(s, doc);
      assert.equal(j.revision, target, `seed=${SEED}: revision after restart`);
      assert.equal(j.snapshot.content, text, `seed=${SEED}: text after restart`);
      const c = await WsClient.connect(s, { label: 'continue' });
      await c.joinOk(doc);
      assert.equal(await c.opOk(doc, textOp(I('>')), target), target + 1);
      c.terminate();
      s.assertNotCrashed();
    } finally {
      await s.stop();
    }
  });

  it('kill -9 during a write load: every acknowledged op is in the reloaded documents', { timeout: 90000 }, async (t) => {
    await assertKillDuringWriteLoadLosesNothing(t, { label: 'redis-crash', env: redisEnv(), minAcked: 100 });
  });

  it('an unreachable Redis aborts startup with a clear message and no password', { timeout: 60000 }, async () => {
    const res = await runExpectingExit({
      env: {
        OPSTREAM__STORAGE__PROVIDER: 'redis',
        OPSTREAM__STORAGE__CONNECTIONSTRING: '127.0.0.1:1,connectRetry=1,password=hunter2',
        OPSTREAM__STORAGE__STARTUPRETRYSECONDS: '1',
      },
      timeoutMs: 30000,
    });
    assert.notEqual(res.code, 0);
    assert.match(res.output, /Redis storage could not connect/);
    assert.doesNotMatch(res.output, /hunter2/);
  });
});
