// Convergence of concurrent editing (wire-protocol.md §2.5, §2.10 R1–R3; engines.md §3.4, §4.5).
// Several OT clients edit one text document at random, concurrently; at the end every client's
// text equals the snapshot of a fresh joiner, and each client saw every revision exactly once,
// in order. Seed: $OPSTREAM_TEST_SEED (printed on every run).

import { describe, it, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { SharedServer } from './lib/harness.mjs';
import { WsClient, uniqueDoc } from './lib/client.mjs';
import { OtTextClient, runRandomEditing } from './lib/ot-client.mjs';
import { seedFromEnv } from './lib/text-ot.mjs';

const SEED = seedFromEnv();

describe(`convergence (seed ${SEED}; rerun with OPSTREAM_TEST_SEED=${SEED})`, () => {
  let server;
  const all = [];
  const shared = new SharedServer({ label: 'convergence' });
  beforeEach(async () => { server = await shared.get(); });
  after(async () => {
    for (const c of all) c.terminate();
    await shared.finish();
  });

  async function scenario(t, { clients: n, opsPerClient, seed, maxDelayMs }) {
    t.diagnostic(`seed=${seed} clients=${n} opsPerClient=${opsPerClient}`);
    const doc = uniqueDoc('conv');
    const clients = [];
    for (let i = 0; i < n; i++) {
      const c = await OtTextClient.connectAndJoin(server, doc, { label: `conv${n}-${i}` });
      clients.push(c);
      all.push(c);
    }
    let target;
    try {
      target = await runRandomEditing(clients, { seed, opsPerClient, maxDelayMs });
    } catch (e) {
      e.message = `seed=${seed}: ${e.message}`;
      throw e;
    }
    for (const c of clients) c.checkRevisionSequence();
    const texts = clients.map((c) => c.doc);
    for (let i = 1; i < n; i++) {
      assert.equal(texts[i], texts[0], `seed=${seed}: client ${i} diverged from client 0`);
    }
    const fresh = await WsClient.connect(server, { label: `conv${n}-fresh` });
    const j = await fresh.joinOk(doc);
    fresh.terminate();
    assert.equal(j.revision, target, `seed=${seed}: fresh joiner revision`);
    assert.equal(j.snapshot.content, texts[0], `seed=${seed}: fresh joiner snapshot differs from the clients' text`);
    const totalAcks = clients.reduce((s, c) => s + c.acks, 0);
    const absorbed = clients.reduce((s, c) => s + c.absorbed, 0);
    assert.equal(target - 1, totalAcks - absorbed, `seed=${seed}: every stored op has exactly one revision`);
    t.diagnostic(`final revision ${target}, ${totalAcks} acks (${absorbed} absorbed), text length ${texts[0].length}`);
    for (const c of clients) await c.close();
  }

  it('4 clients × 40 random ops converge', { timeout: 60000 }, async (t) => {
    await scenario(t, { clients: 4, opsPerClient: 40, seed: SEED, maxDelayMs: 10 });
  });

  it('8 clients × 20 random ops converge (bursty, no delays)', { timeout: 60000 }, async (t) => {
    await scenario(t, { clients: 8, opsPerClient: 20, seed: (SEED + 1) >>> 0, maxDelayMs: 2 });
  });

  it('6 clients × 30 random ops converge (the 100-op snapshot threshold is crossed mid-run)', { timeout: 60000 }, async (t) => {
    await scenario(t, { clients: 6, opsPerClient: 30, seed: (SEED + 2) >>> 0, maxDelayMs: 6 });
  });

  it('clients joining while others edit get a consistent snapshot and every later op exactly once (R1, R2; OP-2)', { timeout: 60000 }, async (t) => {
    const seed = (SEED + 3) >>> 0;
    t.diagnostic(`seed=${seed}`);
    const doc = uniqueDoc('late');
    const editors = [];
    for (let i = 0; i < 3; i++) {
      const c = await OtTextClient.connectAndJoin(server, doc, { label: `late-editor${i}` });
      editors.push(c);
      all.push(c);
    }
    const late = [];
    const joining = (async () => {
      for (let i = 0; i < 6; i++) {
        // join at revision thresholds so the joins certainly fall in the middle of the editing
        await editors[0].waitFor(() => editors[0].revision >= 10 + 15 * i, { what: `revision ${10 + 15 * i}`, timeoutMs: 20000 });
        const c = await OtTextClient.connectAndJoin(server, doc, { label: `late-joiner${i}` });
        late.push(c);
        all.push(c);
      }
    })();
    let target;
    try {
      [target] = await Promise.all([runRandomEditing(editors, { seed, opsPerClient: 40, maxDelayMs: 4 }), joining]);
      await Promise.all(late.map((c) => c.waitRevision(target)));
    } catch (e) {
      e.message = `seed=${seed}: ${e.message}`;
      throw e;
    }
    assert.ok(late.some((c) => c.joinRevision > 1 && c.joinRevision < target),
      `at least one client joined mid-run (join revisions ${late.map((c) => c.joinRevision).join(',')}, final ${target})`);
    for (const c of [...editors, ...late]) {
      if (c.failure) throw c.failure;
      c.checkRevisionSequence();
      assert.equal(c.revision, target, `${c.label} revision`);
      assert.equal(c.doc, editors[0].doc, `seed=${seed}: ${c.label} (joined at ${c.joinRevision}) diverged`);
    }
    for (const c of [...editors, ...late]) await c.close();
  });
});
