// The server on the relational storages, PostgreSQL and MySQL/MariaDB (server.md §3.4, §3.8,
// §11.5): several clients edit, the server restarts and finds everything; kill -9 during a write
// load loses no acknowledged op; an unreachable database ends startup with a clear message after
// the retry budget; a malformed connection string is refused.
//
// The databases are the ones scripts/test-services.sh starts (OPSTREAM_TEST_POSTGRES_URL in Npgsql
// format, OPSTREAM_TEST_MYSQL_URL in MySqlConnector format). Documents have unique ids, so the
// tests share them safely. Without the variables the tests fail: they never skip.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { makeTempDir, runExpectingExit, startServer } from './lib/harness.mjs';
import { assertKillDuringWriteLoadLosesNothing, joinFresh } from './lib/durability.mjs';
import { I, WsClient, textOp, uniqueDoc } from './lib/client.mjs';
import { OtTextClient, runRandomEditing } from './lib/ot-client.mjs';
import { seedFromEnv } from './lib/text-ot.mjs';

const SEED = seedFromEnv();

const PROVIDERS = [
  {
    provider: 'postgres',
    urlVariable: 'OPSTREAM_TEST_POSTGRES_URL',
    tag: 'pg',
    unreachable: (port) => `Host=127.0.0.1;Port=${port};Username=u;Password=pw-s3cr3t;Database=d;Timeout=2`,
    unavailable: /PostgreSQL is unavailable \(127\.0\.0\.1:\d+\/d as u\)/,
    malformed: 'Host=127.0.0.1;Password=pw-s3cr3t;Sslmoed=Require',
  },
  {
    provider: 'mysql',
    urlVariable: 'OPSTREAM_TEST_MYSQL_URL',
    tag: 'my',
    unreachable: (port) => `Server=127.0.0.1;Port=${port};Uid=u;Pwd=pw-s3cr3t;Database=d;Connection Timeout=2`,
    unavailable: /MySQL is unavailable \(127\.0\.0\.1:\d+\/d as u\)/,
    malformed: 'Server=127.0.0.1;Database=d;Pwd=pw-s3cr3t;Sslmoed=Required',
  },
];

function storageEnv({ provider, urlVariable }) {
  const url = process.env[urlVariable];
  assert.ok(url, `${urlVariable} is not set: run through scripts/test.sh, or `
    + '`source scripts/test-services.sh; start_test_services` first');
  return { OPSTREAM__STORAGE__PROVIDER: provider, OPSTREAM__STORAGE__CONNECTIONSTRING: url };
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

for (const db of PROVIDERS) describe(`${db.provider} storage end to end (seed ${SEED})`, () => {
  it('several clients edit, the server restarts, everything is there and editing continues', { timeout: 90000 }, async (t) => {
    t.diagnostic(`seed=${SEED}`);
    const env = storageEnv(db);
    const doc = uniqueDoc(`${db.tag}-edit`);
    const other = uniqueDoc(`${db.tag}-other`);
    let s = await startServer({ label: `${db.tag}-1`, cwd: makeTempDir(), env });
    let target;
    let text;
    try {
      const clients = [];
      for (let i = 0; i < 4; i++) clients.push(await OtTextClient.connectAndJoin(s, doc, { label: `${db.tag}c${i}` }));
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
    s = await startServer({ label: `${db.tag}-2`, cwd: makeTempDir(), env });
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
    await assertKillDuringWriteLoadLosesNothing(t, { label: `${db.tag}-kill`, env: storageEnv(db), cwd: makeTempDir() });
  });

  it('an unreachable database ends startup after the retry budget with a clear message and no password', { timeout: 30000 }, async () => {
    const port = await freePort();
    const res = await runExpectingExit({
      env: {
        OPSTREAM__STORAGE__PROVIDER: db.provider,
        OPSTREAM__STORAGE__CONNECTIONSTRING: db.unreachable(port),
        OPSTREAM__STORAGE__STARTUPRETRYSECONDS: '1',
      },
      timeoutMs: 20000,
    });
    assert.equal(res.timedOut, false, res.tail);
    assert.notEqual(res.code, 0, res.tail);
    assert.equal(res.listened, false);
    assert.match(res.output, db.unavailable, res.tail);
    assert.doesNotMatch(res.output, /pw-s3cr3t/);
  });

  it('a malformed connection string is refused at startup without echoing the password', { timeout: 20000 }, async () => {
    const res = await runExpectingExit({
      env: {
        OPSTREAM__STORAGE__PROVIDER: db.provider,
        OPSTREAM__STORAGE__CONNECTIONSTRING: db.malformed,
      },
    });
    assert.notEqual(res.code, 0, res.tail);
    assert.match(res.output, /'Sslmoed' is not a valid keyword/, res.tail);
    assert.doesNotMatch(res.output, /pw-s3cr3t/);
  });
});
