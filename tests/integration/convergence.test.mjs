// Convergence of concurrent editing (wire-protocol.md §2.5, §2.10 R1–R3; engines.md §3.4, §4.5).
// Several OT clients edit one text document at random, concurrently; at the end every client's
// text equals the snapshot of a fresh joiner, and each client saw every revision exactly once,
// in order. Seed: $OPSTREAM_TEST_SEED (printed on every run).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/harness.mjs';
import { WsClient, uniqueDoc } from './lib/client.mjs';
import { OtTextClient, runRandomEditing } from './lib/ot-client.mjs';
import { seedFromEnv } from './lib/text-ot.mjs';

const SEED = seedFromEnv();

describe(`convergence (seed ${SEED}; rerun with OPSTREAM_TEST_SEED=${SEED})`, () => {
  let server;
  const all = [];
  before(async () => { server = await startServer({ label: 'convergence' }); });
  after(async () => {
    for (const c of all) c.terminate();
    if (!server) return;
    server.assertNotCrashed();
    await server.stop();
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
});
