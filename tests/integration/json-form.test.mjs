// The `json` (LWW-per-path CRDT) and `form` (field LWW) document types over the raw WebSocket
// transport (engines.md §6, §8; wire-protocol.md §2.5, §2.10).
//
// Convergence: several clients write concurrently to one document, each sending batches against
// whatever revision it last saw (CRDT ops are never transformed, only checked for log
// continuity). Every client must see every revision exactly once (its acks plus the broadcasts),
// all clients must end with the same op log, and a fresh joiner's snapshot must equal the
// last-writer-wins result of that log computed here independently:
//   json: a path is visible iff its newest write is a set and is newer than every write to any of
//         its ancestors (valid when every op carries its own (timestamp, peer) stamp, as here);
//   form: every written field holds its newest write's value (null after a clear).
// Stamps: each client counts its own timestamps up from the same start, so stamps of different
// clients tie and the peer id (ordinal, like JS string order) decides.
//
// Invalid ops: rejected with success=false, a readable errorMessage and the revision unchanged;
// the document stays as it was. Seed: $OPSTREAM_TEST_SEED (printed).

import { describe, it, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SharedServer, sleep } from './lib/harness.mjs';
import { MT, WsClient, opB64, unb64, uniqueDoc, short } from './lib/client.mjs';
import { makeRng, seedFromEnv } from './lib/text-ot.mjs';

const SEED = seedFromEnv();
const PATHS = ['a', 'a.b', 'a.b.c', 'a.x', 'b', 'b.y', 'items[0]', 'c'];
const FIELDS = ['name', 'email', 'age', 'notes'];
const VALUES = [1, 2.5, 'x', 'é<&', true, null, { k: [1, 2] }, []];

function stampGreater(a, b) {
  return a.timestamp !== b.timestamp ? a.timestamp > b.timestamp : a.peerId > b.peerId;
}

function ancestors(path) {
  const out = [];
  for (let i = path.lastIndexOf('.'); i >= 0; i = i === 0 ? -1 : path.lastIndexOf('.', i - 1)) out.push(path.slice(0, i));
  return out;
}

/** Visible json content ({path: JSON text}) by the model in the header. */
function jsonModel(ops) {
  const latest = new Map();
  const newestWrite = new Map();
  for (const op of ops) {
    const key = op.path;
    if (!latest.has(key) || stampGreater(op, latest.get(key))) latest.set(key, op);
    if (!newestWrite.has(key) || stampGreater(op, newestWrite.get(key))) newestWrite.set(key, op);
  }
  const visible = {};
  for (const [path, op] of latest) {
    if (op.$type !== 'set') continue;
    if (ancestors(path).some((a) => newestWrite.has(a) && stampGreater(newestWrite.get(a), op))) continue;
    visible[path] = JSON.stringify(op.value);
  }
  return visible;
}

function formModel(ops) {
  const latest = new Map();
  for (const op of ops) {
    if (!latest.has(op.fieldName) || stampGreater(op, latest.get(op.fieldName))) latest.set(op.fieldName, op);
  }
  const fields = {};
  for (const [field, op] of latest) fields[field] = JSON.stringify(op.$type === 'set' ? op.value : null);
  return fields;
}

function visibleOfSnapshot(type, snapshot) {
  const out = {};
  if (type === 'json') {
    for (const [path, reg] of Object.entries(snapshot.registers)) {
      if (!reg.isDeleted) out[path] = JSON.stringify(reg.value);
    }
  } else {
    for (const [field, reg] of Object.entries(snapshot.fields)) out[field] = JSON.stringify(reg.value);
  }
  return out;
}

const sorted = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** A peer that logs every revision it learns (own acks and broadcasts) with its op. */
class CrdtPeer {
  constructor(client, documentId, peerId) {
    this.c = client;
    this.documentId = documentId;
    this.peerId = peerId;
    this.revision = 0;
    this.clock = 1000;
    this.log = new Map(); // revision -> op batch
    this.pending = new Map(); // correlationId -> batch
    this.failures = [];
    client.handler = (m) => this._on(m);
  }

  _on(m) {
    if (m.messageType === MT.OpResponse) {
      const batch = this.pending.get(m.correlationId);
      if (!batch) return this.failures.push(`unexpected OpResponse ${short(m)}`);
      this.pending.delete(m.correlationId);
      const r = m.opResponse;
      if (!r || r.success !== true) return this.failures.push(`op rejected: ${short(m)} for ${JSON.stringify(batch)}`);
      this._learn(r.newRevision, batch);
    } else if (m.messageType === MT.ReceiveOpEvent) {
      const ev = m.receiveOpEvent;
      this._learn(ev.newRevision, JSON.parse(unb64(ev.payload)));
    }
  }

  _learn(revision, batch) {
    if (this.log.has(revision)) this.failures.push(`revision ${revision} seen twice`);
    this.log.set(revision, batch);
    this.revision = Math.max(this.revision, revision);
  }

  send(batch) {
    const correlationId = randomUUID();
    this.pending.set(correlationId, batch);
    this.c.send({
      correlationId,
      messageType: MT.OpRequest,
      opRequest: { documentId: this.documentId, payload: opB64(batch), baseRevision: this.revision },
    });
  }

  randomBatch(rng, type) {
    const operations = [];
    const n = rng.int(1, 3);
    for (let i = 0; i < n; i++) {
      const set = rng.next() < 0.7;
      const timestamp = ++this.clock;
      if (type === 'json') {
        operations.push(set
          ? { $type: 'set', path: rng.pick(PATHS), value: rng.pick(VALUES), timestamp, peerId: this.peerId }
          : { $type: 'del', path: rng.pick(PATHS), timestamp, peerId: this.peerId });
      } else {
        operations.push(set
          ? { $type: 'set', fieldName: rng.pick(FIELDS), value: rng.pick(VALUES), timestamp, peerId: this.peerId }
          : { $type: 'clr', fieldName: rng.pick(FIELDS), timestamp, peerId: this.peerId });
      }
    }
    return { operations };
  }
}

async function waitFor(cond, what, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe(`json and form documents (seed ${SEED}; rerun with OPSTREAM_TEST_SEED=${SEED})`, () => {
  let server;
  const all = [];
  const shared = new SharedServer({ label: 'json-form', env: { OPSTREAM__ENGINES: 'text,json,form' } });
  beforeEach(async () => { server = await shared.get(); });
  after(async () => {
    for (const c of all) c.terminate();
    await shared.finish();
  });

  async function converge(t, type, { clients: n, batchesPerClient, seed }) {
    t.diagnostic(`type=${type} seed=${seed} clients=${n} batchesPerClient=${batchesPerClient}`);
    const rng = makeRng(seed);
    const doc = uniqueDoc(`crdt-${type}`);
    const peers = [];
    for (let i = 0; i < n; i++) {
      const c = await WsClient.connect(server, { label: `${type}-${i}` });
      all.push(c);
      const j = await c.joinOk(doc, type);
      assert.equal(j.revision, 1);
      assert.deepEqual(j.snapshot, type === 'json' ? { registers: {} } : { fields: {} });
      const peer = new CrdtPeer(c, doc, `peer-${String.fromCharCode(65 + i)}`);
      peer.revision = j.revision;
      peers.push(peer);
    }
    await Promise.all(peers.map(async (p) => {
      for (let k = 0; k < batchesPerClient; k++) {
        p.send(p.randomBatch(rng, type));
        if (rng.next() < 0.5) await sleep(rng.int(0, 5));
      }
    }));
    const total = n * batchesPerClient;
    const final = 1 + total;
    await waitFor(() => peers.every((p) => p.pending.size === 0 && p.log.size === total), 'every revision at every peer');
    for (const p of peers) {
      assert.deepEqual(p.failures, [], `seed=${seed}: ${p.peerId}`);
      for (let r = 2; r <= final; r++) assert.ok(p.log.has(r), `seed=${seed}: ${p.peerId} missed revision ${r}`);
      for (let r = 2; r <= final; r++) {
        assert.deepEqual(p.log.get(r), peers[0].log.get(r), `seed=${seed}: ${p.peerId} has another op at revision ${r}`);
      }
    }
    const ops = [];
    for (let r = 2; r <= final; r++) ops.push(...peers[0].log.get(r).operations);
    const fresh = await WsClient.connect(server, { label: `${type}-fresh` });
    all.push(fresh);
    const j = await fresh.joinOk(doc, type);
    assert.equal(j.revision, final, `seed=${seed}: fresh joiner revision`);
    const expected = type === 'json' ? jsonModel(ops) : formModel(ops);
    assert.deepEqual(sorted(visibleOfSnapshot(type, j.snapshot)), sorted(expected),
      `seed=${seed}: the snapshot differs from the LWW result of the op log\n${j.snapshotText}`);
    t.diagnostic(`final revision ${final}, ${Object.keys(expected).length} visible entries`);
    for (const p of peers) await p.c.close();
    await fresh.close();
  }

  it('json: 4 concurrent clients converge to the LWW result', { timeout: 60000 }, async (t) => {
    await converge(t, 'json', { clients: 4, batchesPerClient: 30, seed: SEED });
  });

  it('json: 6 concurrent clients, another seed', { timeout: 60000 }, async (t) => {
    await converge(t, 'json', { clients: 6, batchesPerClient: 20, seed: (SEED + 1) >>> 0 });
  });

  it('form: 4 concurrent clients converge to the LWW result', { timeout: 60000 }, async (t) => {
    await converge(t, 'form', { clients: 4, batchesPerClient: 30, seed: (SEED + 2) >>> 0 });
  });

  async function rejects(type, invalid) {
    const doc = uniqueDoc(`crdt-invalid-${type}`);
    const c = await WsClient.connect(server, { label: `${type}-invalid` });
    all.push(c);
    await c.joinOk(doc, type);
    const good = type === 'json'
      ? { operations: [{ $type: 'set', path: 'user.name', value: 'Ann', timestamp: 5, peerId: 'p' }] }
      : { operations: [{ $type: 'set', fieldName: 'name', value: 'Ann', timestamp: 5, peerId: 'p' }] };
    const ok = await c.op(doc, good, 1);
    assert.equal(ok.opResponse.success, true, short(ok));
    assert.equal(ok.opResponse.newRevision, 2);
    const before = (await c.joinOk(doc, type)).snapshotText;
    for (const [payload, pattern] of invalid) {
      const res = await c.op(doc, payload, 2);
      assert.equal(res.messageType, MT.OpResponse, short(res));
      assert.equal(res.opResponse.success, false, `accepted: ${JSON.stringify(payload)}`);
      assert.equal(res.opResponse.newRevision, 2, short(res));
      assert.match(res.opResponse.errorMessage || '', pattern, `unclear message for ${JSON.stringify(payload)}`);
    }
    const after = await c.joinOk(doc, type);
    assert.equal(after.revision, 2);
    assert.equal(after.snapshotText, before, 'a rejected op changed the document');
    await c.close();
  }

  it('json: invalid ops are rejected with a clear message and change nothing', async () => {
    await rejects('json', [
      [{ operations: [{ type: 'set', path: 'a', value: 1, timestamp: 9, peerId: 'p' }] }, /\$type/],
      [{ operations: [{ $type: 'put', path: 'a', value: 1, timestamp: 9, peerId: 'p' }] }, /unknown \$type "put"/],
      [{ operations: [{ $type: 'set', path: 'a', timestamp: 9, peerId: 'p' }] }, /without a value/],
      [{ operations: [{ $type: 'set', path: 'user.name', value: 'x', timestamp: 9 }] }, /peerId/],
      [{ operations: [{ $type: 'del', path: null, timestamp: 9, peerId: 'p' }] }, /path/],
      [{ operations: [{ $type: 'del', path: 'user', timestamp: '9', peerId: 'p' }] }, /timestamp/],
      [{ operations: [{ $type: 'del', path: 'user', timestamp: 9.5, peerId: 'p' }] }, /timestamp/],
      [{ operations: null }, /operations/],
      [{ b64: Buffer.from('{"operations":[{"$type":"del","path":"user","timestamp":9,"peerId":"p"},]}').toString('base64') }, /JsonOpBatch/],
    ]);
  });

  it('form: invalid ops are rejected with a clear message and change nothing', async () => {
    await rejects('form', [
      [{ operations: [{ $type: 'xyz', fieldName: 'a', value: 1, timestamp: 9, peerId: 'p' }] }, /unknown \$type "xyz"/],
      [{ operations: [{ $type: 'set', fieldName: null, value: 1, timestamp: 9, peerId: 'p' }] }, /fieldName/],
      [{ operations: [{ $type: 'set', fieldName: 'name', timestamp: 9, peerId: 'p' }] }, /without a value/],
      [{ operations: [{ $type: 'clr', fieldName: 'name', timestamp: 9 }] }, /peerId/],
    ]);
  });
});
