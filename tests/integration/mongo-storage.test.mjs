// The server on the `mongo` storage (server.md §3.6, §3.8) against the Mongo-wire stand-in
// (mockupdb+mongomock), NOT a real MongoDB — Debian has no MongoDB server. scripts/test-services.sh
// starts scripts/mongo-standin.py and exports OPSTREAM_TEST_MONGO_URL; without it these tests fail,
// they never skip. Each test uses a database of its own (OPSTREAM__STORAGE__DATABASENAME).
//
// Several clients edit, the server restarts and finds everything; kill -9 during a write load loses
// no acknowledged op; an unreachable server ends startup with a clear message; a malformed URI is
// refused without echoing its password.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { makeTempDir, runExpectingExit, startServer } from './lib/harness.mjs';
import { assertKillDuringWriteLoadLosesNothing, joinFresh } from './lib/durability.mjs';
import { I, WsClient, textOp, uniqueDoc } from './lib/client.mjs';
import { OtTextClient, runRandomEditing } from './lib/ot-client.mjs';
import { seedFromEnv } from './lib/text-ot.mjs';

const SEED = seedFromEnv();
const LABEL = 'Mongo-wire stand-in (mockupdb+mongomock), not a real MongoDB';
let databases = 0;

function mongoEnv() {
  const url = process.env.OPSTREAM_TEST_MONGO_URL;
  assert.ok(url, `OPSTREAM_TEST_MONGO_URL is not set (${LABEL}): run through scripts/test.sh, or `
    + '`source scripts/test-services.sh; start_test_services` first');
  return {
    OPSTREAM__STORAGE__PROVIDER: 'mongo',
    OPSTREAM__STORAGE__CONNECTIONSTRING: url,
    OPSTREAM__STORAGE__DATABASENAME: `opstream_it_${process.pid}_${++databases}`,
  };
}

async function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

describe(`mongo storage end to end, ${LABEL} (seed ${SEED})`, () => {
  it('several clients edit, the server restarts, everything is there and editing continues', { timeout: 90000 }, async (t) => {
    t.diagnostic(`seed=${SEED}; backend: ${LABEL}`);
    const env = mongoEnv();
    const doc = uniqueDoc('mongo-edit');
    const other = uniqueDoc('mongo-other');
    let s = await startServer({ label: 'mongo-1', cwd: makeTempDir(), env });
    let target;
    let text;
    try {
      const clients = [];
      for (let i = 0; i < 4; i++) clients.push(await OtTextClient.connectAndJoin(s, doc, { label: `mgc${i}` }));
      // 4 × 40 ops crosses the 100-op snapshot, so the reload is snapshot + later ops.
      target = await runRandomEditing(clients, { seed: SEED, opsPerClient: 40, maxDelayMs: 4 });
      text = clients[0].doc;
      for (const c of clients) assert.equal(c.doc, text, `seed=${SEED}: clients converge`);
      for (const c of clients) c.terminate();
      const w = await WsClient.connect(s, { label: 'other' });
      await w.joinOk(other);
      assert.equal(await w.opOk(other, textOp(I('kept')), 1), 2);
      w.terminate();
    } finally {
      await s.stop({ signal: 'SIGTERM' });
    }
    s = await startServer({ label: 'mongo-2', cwd: makeTempDir(), env });
    try {
      const j = await joinFresh(s, doc);
      assert.equal(j.revision, target, `seed=${SEED}: revision after restart`);
      assert.equal(j.snapshot.content, text, `seed=${SEED}: text after restart`);
      const o = await joinFresh(s, other);
      assert.equal(o.revision, 2);
      assert.equal(o.snapshot.content, 'kept');
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
    await assertKillDuringWriteLoadLosesNothing(t, { label: 'mongo-kill', env: mongoEnv(), cwd: makeTempDir() });
  });

  it('an unreachable server ends startup after the retry budget with a clear message and no password', { timeout: 30000 }, async () => {
    const port = await freePort();
    const res = await runExpectingExit({
      env: {
        OPSTREAM__STORAGE__PROVIDER: 'mongo',
        OPSTREAM__STORAGE__CONNECTIONSTRING:
          `mongodb://u:pw-s3cr3t@127.0.0.1:${port}/?serverSelectionTimeoutMS=400&connectTimeoutMS=300`,
        OPSTREAM__STORAGE__STARTUPRETRYSECONDS: '1',
      },
      timeoutMs: 20000,
    });
    assert.equal(res.timedOut, false, res.tail);
    assert.notEqual(res.code, 0, res.tail);
    assert.equal(res.listened, false);
    assert.match(res.output, /MongoDB index creation failed: No suitable servers found/, res.tail);
    assert.doesNotMatch(res.output, /pw-s3cr3t/);
  });

  it('a malformed URI is refused at startup without echoing the password', { timeout: 20000 }, async () => {
    const res = await runExpectingExit({
      env: {
        OPSTREAM__STORAGE__PROVIDER: 'mongo',
        OPSTREAM__STORAGE__CONNECTIONSTRING: 'mongodb://u:pw-s3cr3t@127.0.0.1:notaport/',
      },
    });
    assert.notEqual(res.code, 0, res.tail);
    assert.match(res.output, /The MongoDB connection string is not valid/, res.tail);
    assert.doesNotMatch(res.output, /pw-s3cr3t/);
  });
});
