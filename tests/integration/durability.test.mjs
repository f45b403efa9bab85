// Durability with sqlite storage: every acknowledged op survives kill -9 and a graceful
// SIGTERM (exit code 0). server.md §2.2 (load = snapshot + replay), §2.5 (persist before ack),
// §11.5; wire-protocol.md §2.4.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { makeTempDir, startServer, within } from './lib/harness.mjs';
import { assertKillDuringWriteLoadLosesNothing, joinFresh } from './lib/durability.mjs';
import { I, R, D, WsClient, textOp, uniqueDoc } from './lib/client.mjs';
import { OtTextClient, runRandomEditing } from './lib/ot-client.mjs';
import { applyText, seedFromEnv } from './lib/text-ot.mjs';

const SEED = seedFromEnv();

function sqliteEnv(dir) {
  return {
    OPSTREAM__STORAGE__PROVIDER: 'sqlite',
    OPSTREAM__STORAGE__CONNECTIONSTRING: `Data Source=${path.join(dir, 'opstream.db')}`,
  };
}

/** N sequential ops, each waiting for its ack; returns {revision, text}. */
async function sequentialOps(client, doc, n, { startRevision = 1, startText = '' } = {}) {
  let rev = startRevision;
  let text = startText;
  for (let i = 0; i < n; i++) {
    let op;
    if (i % 5 === 4 && text.length > 2) op = textOp(R(1), D(1));
    else op = text.length > 0 ? textOp(R(text.length), I(`${i % 10}`)) : textOp(I(`${i % 10}`));
    const next = await client.opOk(doc, op, rev);
    assert.equal(next, rev + 1, `op ${i}: revision`);
    rev = next;
    text = applyText(text, op);
  }
  return { revision: rev, text };
}

describe(`durability with sqlite storage (seed ${SEED})`, () => {
  it('kill -9 after N acknowledged ops: a restart on the same file has every op (150 ops, crossing the 100-op snapshot)', { timeout: 90000 }, async () => {
    const dir = makeTempDir();
    const env = sqliteEnv(dir);
    const docA = uniqueDoc('durable-a');
    const docB = uniqueDoc('durable-b');
    let s = await startServer({ label: 'sqlite-1', cwd: dir, env });
    let expectedA;
    let expectedB;
    try {
      const c = await WsClient.connect(s, { label: 'writer' });
      await c.joinOk(docA);
      await c.joinOk(docB);
      expectedA = await sequentialOps(c, docA, 150);
      expectedB = await sequentialOps(c, docB, 7);
      c.terminate();
    } finally {
      await s.kill9();
    }
    assert.equal(s.exit.signal, 'SIGKILL');
    s = await startServer({ label: 'sqlite-2', cwd: dir, env });
    try {
      const ja = await joinFresh(s, docA);
      assert.equal(ja.revision, expectedA.revision, 'revision after restart (doc A)');
      assert.equal(ja.snapshot.content, expectedA.text, 'text after restart (doc A)');
      const jb = await joinFresh(s, docB);
      assert.equal(jb.revision, expectedB.revision, 'revision after restart (doc B)');
      assert.equal(jb.snapshot.content, expectedB.text, 'text after restart (doc B)');
      // editing continues from the restored revision
      const c = await WsClient.connect(s, { label: 'continue' });
      await c.joinOk(docA);
      assert.equal(await c.opOk(docA, textOp(I('>')), expectedA.revision), expectedA.revision + 1);
      c.terminate();
      s.assertNotCrashed();
    } finally {
      await s.stop();
    }
  });

  it('kill -9 during a write load of 8 writers: every acknowledged op is in the reloaded documents', { timeout: 90000 }, async (t) => {
    const dir = makeTempDir();
    await assertKillDuringWriteLoadLosesNothing(t, { label: 'sqlite-kill', env: sqliteEnv(dir), cwd: dir });
  });

  it('kill -9 after concurrent editing by 3 clients: every acknowledged op is restored', { timeout: 90000 }, async (t) => {
    t.diagnostic(`seed=${SEED}`);
    const dir = makeTempDir();
    const env = sqliteEnv(dir);
    const doc = uniqueDoc('durable-conc');
    let s = await startServer({ label: 'sqlite-conc-1', cwd: dir, env });
    let target;
    let text;
    try {
      const clients = [];
      for (let i = 0; i < 3; i++) clients.push(await OtTextClient.connectAndJoin(s, doc, { label: `dc${i}` }));
      target = await runRandomEditing(clients, { seed: SEED, opsPerClient: 40, maxDelayMs: 5 });
      text = clients[0].doc;
      for (const c of clients) assert.equal(c.doc, text, `seed=${SEED}: clients converge before the crash`);
      for (const c of clients) c.terminate();
    } finally {
      await s.kill9();
    }
    s = await startServer({ label: 'sqlite-conc-2', cwd: dir, env });
    try {
      const j = await joinFresh(s, doc);
      assert.equal(j.revision, target, `seed=${SEED}: revision after restart`);
      assert.equal(j.snapshot.content, text, `seed=${SEED}: text after restart`);
      s.assertNotCrashed();
    } finally {
      await s.stop();
    }
  });

  it('SIGTERM shuts down gracefully with exit code 0 and a restart sees all data', { timeout: 60000 }, async () => {
    const dir = makeTempDir();
    const env = sqliteEnv(dir);
    const doc = uniqueDoc('graceful');
    let s = await startServer({ label: 'sqlite-term-1', cwd: dir, env });
    const c = await WsClient.connect(s, { label: 'writer' });
    await c.joinOk(doc);
    const expected = await sequentialOps(c, doc, 30);
    const watcher = await WsClient.connect(s, { label: 'watcher' });
    await watcher.joinOk(doc);
    const res = await s.stop({ signal: 'SIGTERM' });
    assert.equal(res.forced, false, `server did not exit within 10 s of SIGTERM; output:\n${s.logTail(30)}`);
    assert.equal(res.signal, null, `server died by signal ${res.signal} instead of exiting`);
    assert.equal(res.code, 0, `exit code after SIGTERM; output:\n${s.logTail(30)}`);
    const closeInfo = await within(c.closed, 5000);
    assert.ok(closeInfo, 'client sockets are closed by the shutdown');
    s = await startServer({ label: 'sqlite-term-2', cwd: dir, env });
    try {
      const j = await joinFresh(s, doc);
      assert.equal(j.revision, expected.revision);
      assert.equal(j.snapshot.content, expected.text);
      s.assertNotCrashed();
    } finally {
      await s.stop();
    }
  });

  it('SIGTERM exits 0 promptly after clients have connected, joined and gone (closed and reset)', { timeout: 30000 }, async () => {
    const s = await startServer({ label: 'term-after-clients' });
    const doc = uniqueDoc('term');
    const a = await WsClient.connect(s, { label: 'closer' });
    await a.joinOk(doc);
    await a.close();
    const b = await WsClient.connect(s, { label: 'resetter' });
    await b.joinOk(doc);
    b.terminate();
    const c = await WsClient.connect(s, { label: 'idle' });
    await c.close();
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    const res = await s.stop({ signal: 'SIGTERM' });
    assert.equal(res.forced, false, `server still running 10 s after SIGTERM (killed); output:\n${s.logTail(20)}`);
    assert.equal(res.code, 0, `exit code after SIGTERM: ${JSON.stringify(res)}`);
    assert.ok(Date.now() - started < 10000);
  });

  it('memory storage keeps nothing across a restart (control for the tests above)', async () => {
    const doc = uniqueDoc('volatile');
    let s = await startServer({ label: 'memory-1' });
    try {
      const c = await WsClient.connect(s, { label: 'writer' });
      await c.joinOk(doc);
      assert.equal(await c.opOk(doc, textOp(I('gone')), 1), 2);
      c.terminate();
    } finally {
      await s.kill9();
    }
    s = await startServer({ label: 'memory-2' });
    try {
      const j = await joinFresh(s, doc);
      assert.equal(j.revision, 1);
      assert.deepEqual(j.snapshot, { content: '' });
    } finally {
      await s.stop();
    }
  });
});
