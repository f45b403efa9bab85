// Shared by the storage providers' end-to-end tests: reading a document back through a fresh
// connection, and the kill -9 under write load check (nothing acknowledged is lost).
import assert from 'node:assert/strict';
import { startServer } from './harness.mjs';
import { I, WsClient, textOp, uniqueDoc } from './client.mjs';

/** Joins `doc` on a new connection and returns the join response (revision, snapshot). */
export async function joinFresh(server, doc, label = 'verifier') {
  const c = await WsClient.connect(server, { label });
  try {
    return await c.joinOk(doc);
  } finally {
    c.terminate();
  }
}

/**
 * `writers` clients each append one character per op to their own document, waiting for every
 * acknowledgement; the server is killed with SIGKILL while ops are in flight, restarted with the
 * same storage, and every document must hold every acknowledged op (plus at most the one op that
 * was in flight, committed without its ack reaching the client), in order.
 */
export async function assertKillDuringWriteLoadLosesNothing(t, { label, env, cwd, writers = 8, loadMs = 1500, minAcked = 50 }) {
  const docs = Array.from({ length: writers }, (_, i) => uniqueDoc(`${label}-${i}`));
  let s = await startServer({ label: `${label}-1`, cwd, env });
  const acked = new Array(writers).fill(0);
  let stop = false;
  try {
    const loops = docs.map(async (doc, i) => {
      const c = await WsClient.connect(s, { label: `${label}-w${i}` });
      await c.joinOk(doc);
      try {
        // After n ops the text is the first n characters of "0123456789012…".
        for (let n = 0; !stop; n++) {
          await c.opOk(doc, n === 0 ? textOp(I('0')) : textOp({ type: 'retain', count: n }, I(`${n % 10}`)), n + 1);
          acked[i] = n + 1;
        }
      } catch {
        // the server died under the load: the op in flight is not acknowledged
      }
    });
    await new Promise((r) => setTimeout(r, loadMs));
    await s.kill9();
    stop = true;
    await Promise.all(loops);
  } finally {
    stop = true;
    if (s.alive) await s.kill9();
  }
  const total = acked.reduce((a, b) => a + b, 0);
  t.diagnostic(`acknowledged before the kill: ${total} ops over ${writers} documents (${acked.join(', ')})`);
  assert.ok(total >= minAcked, `the load produced acknowledged ops before the kill (${total})`);
  s = await startServer({ label: `${label}-2`, cwd, env });
  try {
    for (let i = 0; i < writers; i++) {
      const j = await joinFresh(s, docs[i]);
      const stored = j.revision - 1;
      assert.ok(stored === acked[i] || stored === acked[i] + 1, `doc ${i}: ${acked[i]} acknowledged ops, ${stored} stored`);
      const expected = Array.from({ length: stored }, (_, n) => `${n % 10}`).join('');
      assert.equal(j.snapshot.content, expected, `doc ${i}: text after restart`);
    }
    s.assertNotCrashed();
  } finally {
    await s.stop();
  }
}
