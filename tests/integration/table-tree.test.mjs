// Table and tree documents over raw WebSocket (engines.md §7, §9; wire-protocol.md §2.5).
// Several clients send random batches concurrently with stale base revisions; afterwards every
// client's view (its own ops plus the events it received, folded by an independent JavaScript
// model of the CRDT) and a fresh joiner's snapshot are identical. Invalid ops are rejected with a
// clear message and change nothing. Seed: $OPSTREAM_TEST_SEED (printed on every run).

import { describe, it, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { SharedServer, sleep } from './lib/harness.mjs';
import { WsClient, MT, uniqueDoc, unb64 } from './lib/client.mjs';
import { makeRng, seedFromEnv } from './lib/text-ot.mjs';

const SEED = seedFromEnv();

// ---- independent models (JavaScript string comparison is UTF-16 ordinal, §1.2) ----------------

const wins = (ts, peer, ts0, peer0) => ts > ts0 || (ts === ts0 && peer > peer0);

function emptyTable() {
  return { rows: {}, columns: {}, cells: {} };
}

function applyTable(doc, batch) {
  for (const op of batch.operations) {
    const t = op.$type;
    const { timestamp: ts, peerId: peer } = op;
    if (t === 'ins_row' || t === 'mv_row') {
      const pos = t === 'ins_row' ? op.position : op.newPosition;
      const r = doc.rows[op.rowId];
      if (!r) {
        doc.rows[op.rowId] = { id: op.rowId, position: pos, positionTimestamp: ts, positionPeerId: peer,
          isDeleted: false, deletionTimestamp: 0, deletionPeerId: '' };
      } else if (wins(ts, peer, r.positionTimestamp, r.positionPeerId)) {
        Object.assign(r, { position: pos, positionTimestamp: ts, positionPeerId: peer });
      }
    } else if (t === 'rm_row' || t === 'rs_row') {
      const del = t === 'rm_row';
      const r = doc.rows[op.rowId];
      if (!r) {
        doc.rows[op.rowId] = { id: op.rowId, position: '', positionTimestamp: 0, positionPeerId: '',
          isDeleted: del, deletionTimestamp: ts, deletionPeerId: peer };
      } else if (wins(ts, peer, r.deletionTimestamp, r.deletionPeerId)) {
        Object.assign(r, { isDeleted: del, deletionTimestamp: ts, deletionPeerId: peer });
      }
    } else if (t === 'ins_col' || t === 'mv_col' || t === 'upd_col_def' || t === 'rm_col' || t === 'rs_col') {
      let c = doc.columns[op.columnId];
      if (!c) {
        c = doc.columns[op.columnId] = { id: op.columnId, position: '', positionTimestamp: 0, positionPeerId: '',
          definition: null, definitionTimestamp: 0, definitionPeerId: '', isDeleted: false, deletionTimestamp: 0,
          deletionPeerId: '' };
        // A new column takes every register the op carries (the LWW below then always wins).
        c.positionTimestamp = c.definitionTimestamp = c.deletionTimestamp = -Infinity;
      }
      if ((t === 'ins_col' || t === 'mv_col') && wins(ts, peer, c.positionTimestamp, c.positionPeerId)) {
        Object.assign(c, { position: t === 'ins_col' ? op.position : op.newPosition, positionTimestamp: ts, positionPeerId: peer });
      }
      if ((t === 'ins_col' || t === 'upd_col_def') && wins(ts, peer, c.definitionTimestamp, c.definitionPeerId)) {
        Object.assign(c, { definition: op.definition, definitionTimestamp: ts, definitionPeerId: peer });
      }
      if ((t === 'rm_col' || t === 'rs_col') && wins(ts, peer, c.deletionTimestamp, c.deletionPeerId)) {
        Object.assign(c, { isDeleted: t === 'rm_col', deletionTimestamp: ts, deletionPeerId: peer });
      }
      for (const k of ['positionTimestamp', 'definitionTimestamp', 'deletionTimestamp']) if (c[k] === -Infinity) c[k] = 0;
    } else if (t === 'set_cell' || t === 'clr_cell') {
      const row = (doc.cells[op.rowId] ||= {});
      const cell = row[op.columnId];
      const value = t === 'set_cell' ? op.value : null;
      if (!cell || wins(ts, peer, cell.timestamp, cell.peerId)) row[op.columnId] = { value, timestamp: ts, peerId: peer };
    } else {
      throw new Error(`unknown table op ${t}`);
    }
  }
  return doc;
}

function wouldCycle(nodes, moving, parent) {
  const seen = new Set();
  for (let cur = parent; ;) {
    if (cur === '__root__' || cur === '__trash__') return false;
    if (cur === moving || seen.has(cur)) return true;
    seen.add(cur);
    const n = nodes[cur];
    if (!n) return false;
    cur = n.parentId;
  }
}

// Final tree = every move applied in key order (ts, then peer), the log recording each node's prior value.
function treeFromMoves(moves) {
  const sorted = [...moves].sort((a, b) => a.timestamp - b.timestamp || (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0));
  const nodes = {};
  const moveLog = [];
  for (const m of sorted) {
    const oldNode = nodes[m.nodeId] ? { ...nodes[m.nodeId] } : null;
    if (!wouldCycle(nodes, m.nodeId, m.newParentId)) {
      nodes[m.nodeId] = { id: m.nodeId, parentId: m.newParentId, position: m.newPosition, payload: m.newPayload };
    }
    const { $type, ...op } = m;
    moveLog.push({ op, oldNode });
  }
  return { nodes, moveLog };
}

// ---- random batches ----------------------------------------------------------------------

const IDS = ['r1', 'r2', 'r3', 'r4', 'é', '😀'];
const POSITIONS = ['a', 'm', 'z', 'aO', '~'];
const VALUES = [1, 'text', 'quote " & <tag> é 😀', null, { nested: [1, 2.5, true] }, ''];

function randomTableBatch(rng, clock, peer) {
  const ops = [];
  for (let n = rng.int(1, 3); n > 0; n--) {
    const t = rng.pick(['ins_row', 'rm_row', 'rs_row', 'mv_row', 'ins_col', 'rm_col', 'rs_col', 'mv_col', 'upd_col_def',
      'set_cell', 'set_cell', 'set_cell', 'clr_cell']);
    const base = { $type: t };
    if (t.endsWith('_row') || t.endsWith('_cell')) base.rowId = rng.pick(IDS);
    if (t.endsWith('_col') || t === 'upd_col_def' || t.endsWith('_cell')) base.columnId = rng.pick(IDS);
    if (t === 'ins_row' || t === 'ins_col') base.position = rng.pick(POSITIONS);
    if (t === 'mv_row' || t === 'mv_col') base.newPosition = rng.pick(POSITIONS);
    if (t === 'ins_col' || t === 'upd_col_def') base.definition = { name: rng.pick(VALUES) };
    if (t === 'set_cell') base.value = rng.pick(VALUES);
    ops.push({ ...base, timestamp: clock(), peerId: peer });
  }
  return { operations: ops };
}

function randomTreeBatch(rng, clock, peer) {
  const ops = [];
  for (let n = rng.int(1, 3); n > 0; n--) {
    ops.push({ $type: 'move', nodeId: rng.pick(IDS), newParentId: rng.pick(['__root__', '__root__', '__trash__', ...IDS]),
      newPosition: rng.pick(POSITIONS), newPayload: rng.pick(VALUES), timestamp: clock(), peerId: peer });
  }
  return { operations: ops };
}

// ---- one client: sends its batches without waiting, records everything ----------------------

class CrdtClient {
  constructor(ws, label) {
    this.ws = ws;
    this.label = label;
    this.revision = 0;
    this.own = [];
    this.received = [];
    this.failures = [];
  }

  static async join(server, doc, type, label) {
    const ws = await WsClient.connect(server, { label });
    const j = await ws.joinOk(doc, type);
    const c = new CrdtClient(ws, label);
    c.revision = j.revision;
    c.initial = j.snapshot;
    ws.handler = (m) => c.onMessage(m);
    return c;
  }

  onMessage(m) {
    if (m.messageType === MT.ReceiveOpEvent) {
      const ev = m.receiveOpEvent;
      if (ev.newRevision <= this.revision) this.failures.push(`revision went back to ${ev.newRevision}`);
      this.revision = Math.max(this.revision, ev.newRevision);
      this.received.push(JSON.parse(unb64(ev.payload)));
    } else if (m.messageType === MT.OpResponse) {
      const waiter = this.waiters.get(m.correlationId);
      if (!waiter) return this.failures.push(`unexpected ack ${JSON.stringify(m)}`);
      this.waiters.delete(m.correlationId);
      waiter(m.opResponse);
    }
  }

  send(batch) {
    const correlationId = `${this.label}-${++this.seq}`;
    const p = new Promise((resolve) => this.waiters.set(correlationId, resolve));
    this.ws.send({ messageType: MT.OpRequest, correlationId,
      opRequest: { documentId: this.doc, payload: Buffer.from(JSON.stringify(batch)).toString('base64'), baseRevision: this.revision } });
    return p;
  }
}
CrdtClient.prototype.seq = 0;

async function runConcurrent(server, type, { clients: n, batches, seed }) {
  const rng = makeRng(seed);
  const doc = uniqueDoc(type);
  const clients = [];
  for (let i = 0; i < n; i++) {
    const c = await CrdtClient.join(server, doc, type, `${type}${i}`);
    c.doc = doc;
    c.waiters = new Map();
    clients.push(c);
  }
  // Skewed clocks per client, strictly increasing per client (unique (timestamp, peer) keys).
  const clocks = clients.map((_, i) => { let t = 1_700_000_000_000 + rng.int(0, 40); return () => (t += rng.int(1, 5 + i)); });
  const make = type === 'table' ? randomTableBatch : randomTreeBatch;
  await Promise.all(clients.map(async (c, i) => {
    for (let k = 0; k < batches; k++) {
      const batch = make(rng, clocks[i], `peer-${i}-${c.label}`);
      c.own.push(batch);
      const ack = c.send(batch);
      if (rng.int(0, 2) === 0) {
        const res = await ack;
        if (!res.success) c.failures.push(`op rejected: ${JSON.stringify(res)}`);
      } else {
        ack.then((res) => { if (!res.success) c.failures.push(`op rejected: ${JSON.stringify(res)}`); });
      }
      if (rng.int(0, 3) === 0) await sleep(rng.int(0, 3));
    }
  }));
  const total = n * batches;
  for (let waited = 0; clients.some((c) => c.own.length + c.received.length < total || c.waiters.size > 0) && waited < 10000; waited += 20) {
    await sleep(20);
  }
  const fresh = await WsClient.connect(server, { label: `${type}-fresh` });
  const j = await fresh.joinOk(doc, type);
  fresh.terminate();
  return { clients, snapshot: j.snapshot, revision: j.revision, total };
}

describe(`table and tree engines over WebSocket (seed ${SEED}; rerun with OPSTREAM_TEST_SEED=${SEED})`, () => {
  let server;
  const shared = new SharedServer({ label: 'table-tree', env: { OPSTREAM__ENGINES: 'text,table,tree' } });
  const sockets = [];
  beforeEach(async () => { server = await shared.get(); });
  after(async () => {
    for (const s of sockets) s.terminate();
    await shared.finish();
  });

  it('empty documents have the reference snapshots', async () => {
    const c = await WsClient.connect(server, { label: 'empty' });
    sockets.push(c);
    const t = await c.joinOk(uniqueDoc('t'), 'table');
    assert.equal(t.snapshotText, '{"rows":{},"columns":{},"cells":{}}');
    assert.equal(t.revision, 1);
    const tr = await c.joinOk(uniqueDoc('tr'), 'TREE');
    assert.equal(tr.snapshotText, '{"nodes":{},"moveLog":[]}');
  });

  for (const type of ['table', 'tree']) {
    it(`${type}: 4 concurrent clients converge`, { timeout: 60000 }, async (t) => {
      const seed = (SEED + (type === 'table' ? 0 : 1)) >>> 0;
      t.diagnostic(`seed=${seed}`);
      const { clients, snapshot, revision, total } = await runConcurrent(server, type, { clients: 4, batches: 40, seed });
      for (const c of clients) sockets.push(c.ws);
      for (const c of clients) assert.deepEqual(c.failures, [], `seed=${seed}: ${c.label}`);
      assert.equal(revision, 1 + total, `seed=${seed}: every batch got one revision`);
      const all = clients.flatMap((c) => c.own);
      if (type === 'table') {
        const expected = all.reduce((d, b) => applyTable(d, b), emptyTable());
        assert.deepStrictEqual(snapshot, expected, `seed=${seed}: server snapshot vs model`);
        for (const c of clients) {
          const view = [...c.own, ...c.received].reduce((d, b) => applyTable(d, b), emptyTable());
          assert.deepStrictEqual(view, snapshot, `seed=${seed}: ${c.label} diverged`);
        }
        // Cells keep nested rowId -> columnId registers (§7.6, D1).
        assert.ok(Object.keys(snapshot.cells).length > 0, 'some cells were written');
      } else {
        const expected = treeFromMoves(all.flatMap((b) => b.operations));
        assert.deepStrictEqual(snapshot, expected, `seed=${seed}: server snapshot vs model`);
        for (const c of clients) {
          const view = treeFromMoves([...c.own, ...c.received].flatMap((b) => b.operations));
          assert.deepStrictEqual(view, snapshot, `seed=${seed}: ${c.label} diverged`);
        }
        for (const id of Object.keys(snapshot.nodes)) {
          assert.equal(wouldCycle(snapshot.nodes, id, snapshot.nodes[id].parentId), false, `seed=${seed}: cycle at ${id}`);
        }
      }
      for (const c of clients) await c.ws.close();
    });
  }

  it('invalid table and tree ops are rejected with a clear error and change nothing', async () => {
    const c = await WsClient.connect(server, { label: 'invalid' });
    sockets.push(c);
    const cases = [
      ['table', { operations: [{ $type: 'drop_table', rowId: 'r', timestamp: 1, peerId: 'p' }] }, /unknown "\$type" "drop_table"/],
      ['table', { operations: [{ $type: 'set_cell', rowId: 'r', columnId: 'c', timestamp: 1, peerId: 'p' }] }, /value is required/],
      ['table', { operations: [{ $type: 'ins_row', rowId: null, position: 'm', timestamp: 1, peerId: 'p' }] }, /rowId must not be null/],
      ['table', { operations: [{ $type: 'ins_row', rowId: 'r', timestamp: 1, peerId: 'p' }] }, /position is required/],
      ['table', { operations: [{ $type: 'rm_row', rowId: 'r', timestamp: 1.5, peerId: 'p' }] }, /timestamp must be a 64-bit integer/],
      ['tree', { operations: [{ $type: 'move', nodeId: 'a', newParentId: '__root__', newPosition: 'm', timestamp: 1, peerId: 'p' }] }, /newPayload is required/],
      ['tree', { operations: [{ $type: 'copy', nodeId: 'a' }] }, /unknown "\$type" "copy"/],
      ['tree', { operations: [{ $type: 'move', nodeId: 'a', newParentId: '__root__', newPosition: 'm', newPayload: 1, timestamp: 1 }] }, /peerId is required/],
      ['tree', { operations: 'none' }, /operations" must be an array/],
    ];
    for (const type of ['table', 'tree']) {
      const doc = uniqueDoc(`bad-${type}`);
      const j = await c.joinOk(doc, type);
      const good = type === 'table'
        ? { operations: [{ $type: 'ins_row', rowId: 'r', position: 'm', timestamp: 5, peerId: 'p' }] }
        : { operations: [{ $type: 'move', nodeId: 'a', newParentId: '__root__', newPosition: 'm', newPayload: null, timestamp: 5, peerId: 'p' }] };
      const rev = await c.opOk(doc, good, j.revision);
      const before = (await (await WsClient.connect(server)).joinOk(doc, type)).snapshotText;
      for (const [t, payload, pattern] of cases.filter((x) => x[0] === type)) {
        const res = await c.op(doc, payload, rev);
        assert.equal(res.messageType, MT.OpResponse, `${t}: ${JSON.stringify(res)}`);
        assert.equal(res.opResponse.success, false, `${t}: ${JSON.stringify(payload)} must be rejected`);
        assert.equal(res.opResponse.newRevision, rev);
        assert.match(res.opResponse.errorMessage, pattern);
      }
      const observer = await WsClient.connect(server);
      sockets.push(observer);
      const after = await observer.joinOk(doc, type);
      assert.equal(after.revision, rev);
      assert.equal(after.snapshotText, before);
    }
  });
});
