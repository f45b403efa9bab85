// Rich-text documents over the raw WebSocket transport (engines.md §5, wire-protocol.md §2.5/§2.10).
//
// A small JavaScript port of the rich-text engine (apply, transform, compaction; §5.6–§5.8) runs
// the client side of OT like lib/ot-client.mjs does for text. Clients compare attributes by value
// (as Quill does), the server by identity (§5.4), so run boundaries may differ; convergence is
// checked on what an editor renders: the text and each character's attributes. Exact bytes are
// checked where the server's output is deterministic (empty snapshot, normalized broadcast ops).
// Seed: $OPSTREAM_TEST_SEED (printed in the suite name).

import { describe, it, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SharedServer, sleep } from './lib/harness.mjs';
import { MT, WsClient, assertOpRejected, b64, opB64, short, unb64, uniqueDoc } from './lib/client.mjs';
import { makeRng, seedFromEnv } from './lib/text-ot.mjs';

const SEED = seedFromEnv();
const ExistingWins = 'ExistingWins';
const IncomingWins = 'IncomingWins';

// ---- JavaScript port of the rich-text engine (client side) ---------------------------------

const canon = (attrs) => (attrs == null ? 'null' : JSON.stringify(Object.fromEntries(Object.keys(attrs).sort().map((k) => [k, attrs[k]]))));
const attrsEqual = (a, b) => canon(a) === canon(b);

function mergeAttrs(base, update) {
  if (base == null && update == null) return null;
  const out = {};
  for (const [k, v] of Object.entries(base || {})) if (v !== null) out[k] = v;
  for (const [k, v] of Object.entries(update || {})) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : null;
}

const Ins = (text, attributes = null) => ({ $type: 'insert', text, attributes });
const Ret = (count, attributes = null) => ({ $type: 'retain', count, attributes });
const Del = (count) => ({ $type: 'delete', count });
const compLen = (c) => (c.$type === 'insert' ? c.text.length : c.count);

/** §5.6 on a run list [{text, attributes}]. */
function applyRich(runs, op) {
  const out = [];
  const push = (text, attributes) => {
    if (text.length === 0) return;
    const last = out[out.length - 1];
    if (last && attrsEqual(last.attributes, attributes)) last.text += text;
    else out.push({ text, attributes });
  };
  let r = 0;
  let off = 0;
  const next = (k) => {
    const run = runs[r];
    const take = Math.min(k, run.text.length - off);
    const piece = { text: run.text.slice(off, off + take), attributes: run.attributes };
    off += take;
    if (off >= run.text.length) { r++; off = 0; }
    return piece;
  };
  for (const c of op.components) {
    if (c.$type === 'insert') {
      push(c.text, mergeAttrs(null, c.attributes));
    } else {
      let k = c.count;
      while (k > 0 && r < runs.length) {
        const p = next(k);
        if (c.$type === 'retain') push(p.text, mergeAttrs(p.attributes, c.attributes));
        k -= p.text.length;
      }
    }
  }
  while (r < runs.length) {
    const p = next(Infinity);
    push(p.text, p.attributes);
  }
  return out;
}

/** §5.7: adjacent inserts/retains with equal attributes and adjacent deletes merge. */
function pushCompact(out, c) {
  const last = out[out.length - 1];
  if (last && last.$type === c.$type) {
    if (c.$type === 'delete') { last.count += c.count; return; }
    if (attrsEqual(last.attributes, c.attributes)) {
      if (c.$type === 'insert') last.text += c.text;
      else last.count += c.count;
      return;
    }
  }
  out.push({ ...c });
}

class Slicer {
  constructor(op) { this.cs = op.components; this.i = 0; this.off = 0; }
  get done() { return this.i >= this.cs.length; }
  get type() { return this.cs[this.i].$type; }
  get remaining() { return compLen(this.cs[this.i]) - this.off; }
  get attributes() { return this.cs[this.i].attributes ?? null; }
  rest() {
    const c = this.cs[this.i];
    const out = c.$type === 'insert' ? Ins(c.text.slice(this.off), c.attributes ?? null)
      : c.$type === 'retain' ? Ret(c.count - this.off, c.attributes ?? null) : Del(c.count - this.off);
    this.i++; this.off = 0;
    return out;
  }
  consume(k) {
    if (k >= this.remaining) { this.i++; this.off = 0; } else this.off += k;
  }
}

function transformAttrs(inc, ext, priority) {
  if (ext == null) return inc;
  const out = {};
  for (const [k, v] of Object.entries(inc)) if (!(priority === ExistingWins && k in ext)) out[k] = v;
  return Object.keys(out).length > 0 ? out : null;
}

/** §5.8; returns {components: []} where the engine returns null. */
function transformRich(incoming, existing, priority) {
  const out = [];
  const a = new Slicer(incoming);
  const b = new Slicer(existing);
  while (!a.done || !b.done) {
    const aIns = !a.done && a.type === 'insert';
    const bIns = !b.done && b.type === 'insert';
    if (aIns && bIns) {
      if (priority === IncomingWins) pushCompact(out, a.rest());
      else pushCompact(out, Ret(b.rest().text.length));
    } else if (bIns) {
      pushCompact(out, Ret(b.rest().text.length));
    } else if (aIns) {
      pushCompact(out, a.rest());
    } else if (a.done) {
      break;
    } else if (b.done) {
      pushCompact(out, a.rest());
    } else {
      const k = Math.min(a.remaining, b.remaining);
      if (a.type === 'delete') {
        if (b.type !== 'delete') pushCompact(out, Del(k));
      } else if (b.type !== 'delete') {
        pushCompact(out, Ret(k, a.attributes == null ? null : transformAttrs(a.attributes, b.attributes, priority)));
      }
      a.consume(k);
      b.consume(k);
    }
  }
  return { components: out };
}

function isNoOpRich(op) {
  return op.components.every((c) => (c.$type === 'retain' ? c.attributes == null : compLen(c) === 0));
}

/** Text plus each character's attributes (value semantics), for convergence checks. */
function rendered(runs) {
  let text = '';
  const attrs = [];
  for (const run of runs) {
    text += run.text;
    for (let i = 0; i < run.text.length; i++) attrs.push(canon(run.attributes));
  }
  return { text, attrs };
}

const lengthOf = (runs) => runs.reduce((n, r) => n + r.text.length, 0);

const STYLES = [null, { bold: true }, { italic: true }, { color: '#c00' }, { bold: null }, { link: 'https://example.com/?a=1&b=<2>' },
  { header: 2, bold: true }, { italic: null, color: null }];
const LETTERS = ['a', 'b', 'c', 'x', 'y', ' ', '\n', 'é', '"', '<', '&', '中'];

function randomRichOp(rng, runs) {
  const n = lengthOf(runs);
  const comps = [];
  const kind = n === 0 ? 0 : rng.int(0, 3);
  if (kind === 0 || kind === 3) { // insert, or replace
    const pos = rng.int(0, n);
    if (pos > 0) comps.push(Ret(pos));
    if (kind === 3 && pos < n) comps.push(Del(rng.int(1, Math.min(4, n - pos))));
    let text = '';
    for (let i = rng.int(1, 5); i > 0; i--) text += rng.pick(LETTERS);
    comps.push(Ins(text, rng.pick(STYLES)));
  } else if (kind === 1) { // delete
    const pos = rng.int(0, n - 1);
    if (pos > 0) comps.push(Ret(pos));
    comps.push(Del(rng.int(1, Math.min(5, n - pos))));
  } else { // format a range (sometimes with a trailing plain retain, as Quill deltas may have)
    const pos = rng.int(0, n - 1);
    if (pos > 0) comps.push(Ret(pos));
    const len = rng.int(1, Math.min(8, n - pos));
    comps.push(Ret(len, rng.pick(STYLES.slice(1))));
    if (rng.next() < 0.3 && pos + len < n) comps.push(Ret(n - pos - len));
  }
  return { components: comps };
}

// ---- OT client for rich-text documents -----------------------------------------------------

class RichClient {
  constructor(ws, documentId, documentType) {
    this.c = ws;
    this.documentId = documentId;
    this.documentType = documentType;
    this.runs = null;
    this.revision = null;
    this.joinRevision = null;
    this.pending = null;
    this.buffer = [];
    this.seen = [];
    this.acks = 0;
    this.absorbed = 0;
    this.failure = null;
    this.wakers = new Set();
    ws.handler = (m) => { this.onMessage(m); for (const w of [...this.wakers]) w(); };
  }

  static async connect(server, documentId, label, documentType = 'rich-text') {
    const ws = await WsClient.connect(server, { label });
    const client = new RichClient(ws, documentId, documentType);
    client.joinCid = randomUUID();
    ws.send({
      correlationId: client.joinCid,
      messageType: MT.JoinRequest,
      joinRequest: { documentId, documentType, clientProtoVersion: 1 },
    });
    await client.waitFor(() => client.revision !== null, 'the join response');
    return client;
  }

  fail(message) {
    if (!this.failure) this.failure = new Error(`[${this.c.label}] ${message}` + this.c._serverTail());
  }

  waitFor(pred, what, timeoutMs = 20000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.failure) { done(); reject(this.failure); } else if (pred()) { done(); resolve(); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`[${this.c.label}] timed out waiting for ${what}`)); }, timeoutMs);
      const done = () => { clearTimeout(timer); this.wakers.delete(check); };
      this.wakers.add(check);
      check();
    });
  }

  onMessage(m) {
    if (this.failure) return;
    if (this.revision === null) {
      if (m.correlationId !== this.joinCid || m.messageType !== MT.JoinResponse) return this.fail(`join failed: ${short(m)}`);
      this.runs = JSON.parse(unb64(m.joinResponse.snapshot)).content;
      this.revision = this.joinRevision = m.joinResponse.revision;
      return;
    }
    if (m.messageType === MT.OpResponse) {
      if (!this.pending || m.correlationId !== this.pending.cid) return this.fail(`unexpected ack ${short(m)}`);
      if (m.opResponse.success !== true) return this.fail(`op rejected: ${short(m)}; sent ${short(this.pending.sent)}`);
      if (isNoOpRich(this.pending.op)) {
        if (m.opResponse.newRevision !== this.revision) return this.fail(`absorbed op acknowledged with ${short(m)}`);
        this.absorbed++;
      } else {
        if (m.opResponse.newRevision !== this.revision + 1) return this.fail(`ack revision gap: ${short(m)}`);
        this.revision = m.opResponse.newRevision;
        this.seen.push(this.revision);
      }
      this.acks++;
      this.pending = null;
      this.flush();
    } else if (m.messageType === MT.ReceiveOpEvent) {
      const ev = m.receiveOpEvent;
      if (ev.newRevision !== this.revision + 1) return this.fail(`event revision gap: ${short(m)}`);
      let x = JSON.parse(unb64(ev.payload));
      // X' = T(X, P, IncomingWins), P' = T(P, X, ExistingWins), then the same along the buffer (§3.4).
      if (this.pending) {
        const x1 = transformRich(x, this.pending.op, IncomingWins);
        this.pending.op = transformRich(this.pending.op, x, ExistingWins);
        x = x1;
      }
      for (let i = 0; i < this.buffer.length; i++) {
        const x1 = transformRich(x, this.buffer[i], IncomingWins);
        this.buffer[i] = transformRich(this.buffer[i], x, ExistingWins);
        x = x1;
      }
      this.runs = applyRich(this.runs, x);
      this.revision = ev.newRevision;
      this.seen.push(this.revision);
    } else if (m.messageType !== MT.ReceiveAwarenessEvent && m.messageType !== MT.PeerDisconnectedEvent) {
      this.fail(`unexpected message ${short(m)}`);
    }
  }

  send(op) {
    const cid = randomUUID();
    this.pending = { op, cid, sent: JSON.parse(JSON.stringify(op)) };
    this.c.send({
      correlationId: cid,
      messageType: MT.OpRequest,
      opRequest: { documentId: this.documentId, payload: opB64(op), baseRevision: this.revision },
    });
  }

  flush() {
    while (!this.pending && this.buffer.length > 0) {
      const op = this.buffer.shift();
      if (!isNoOpRich(op)) this.send(op);
    }
  }

  edit(op) {
    if (this.failure) throw this.failure;
    this.runs = applyRich(this.runs, op);
    if (this.pending) this.buffer.push(op);
    else this.send(op);
  }

  get idle() { return !this.pending && this.buffer.length === 0; }
}

// ---- tests ---------------------------------------------------------------------------------

describe(`rich-text over /collab-ws (seed ${SEED}; rerun with OPSTREAM_TEST_SEED=${SEED})`, () => {
  let server;
  const sockets = [];
  const shared = new SharedServer({ label: 'rich-text', env: { OPSTREAM__ENGINES: 'text,rich-text' } });
  beforeEach(async () => { server = await shared.get(); });
  after(async () => {
    for (const s of sockets) s.terminate();
    await shared.finish();
  });

  async function connect(label) {
    const c = await WsClient.connect(server, { label });
    sockets.push(c);
    return c;
  }

  it('a new document is {"content":[]} at revision 1; the "richtext" alias joins the same document (D9)', async () => {
    const doc = uniqueDoc('rt-empty');
    const a = await connect('rt-empty-a');
    const j = await a.joinOk(doc, 'rich-text');
    assert.equal(j.revision, 1);
    assert.equal(j.snapshotText, '{"content":[]}');
    const rev = await a.opOk(doc, { components: [Ins('Hi', { bold: true })] }, 1);
    assert.equal(rev, 2);
    const b = await connect('rt-empty-b');
    const jb = await b.joinOk(doc, 'RichText');
    assert.equal(jb.revision, 2);
    assert.equal(jb.snapshotText, '{"content":[{"text":"Hi","attributes":{"bold":true}}]}');
  });

  it('broadcast ops are normalized: $type first, camelCase, attributes sorted and written as null when absent', async () => {
    const doc = uniqueDoc('rt-norm');
    const a = await connect('rt-norm-a');
    const b = await connect('rt-norm-b');
    await a.joinOk(doc, 'rich-text');
    await b.joinOk(doc, 'rich-text');
    const payload = '{"Components":[{"Text":"x<y","$type":"insert","Attributes":{"z":1,"a":2.50,"M":"\\u0041"}},' +
      '{"$type":"retain","Count":0,"unknown":true},{"$type":"delete","count":0,"attributes":"ignored"}]}';
    const rev = await a.opOk(doc, { b64: b64(payload) }, 1);
    const ev = await b.next((m) => m.messageType === MT.ReceiveOpEvent, { what: 'the broadcast op' });
    assert.equal(ev.receiveOpEvent.newRevision, rev);
    assert.equal(unb64(ev.receiveOpEvent.payload),
      '{"components":[{"$type":"insert","text":"x\\u003Cy","attributes":{"M":"A","a":2.50,"z":1}},' +
      '{"$type":"retain","count":0,"attributes":null},{"$type":"delete","count":0}]}');
    const c = await connect('rt-norm-c');
    const j = await c.joinOk(doc, 'rich-text');
    assert.equal(j.snapshotText, '{"content":[{"text":"x\\u003Cy","attributes":{"M":"A","a":2.50,"z":1}}]}');
  });

  it('invalid rich-text ops are rejected with a clear error and leave the document unchanged (§5.12, §14)', async () => {
    const doc = uniqueDoc('rt-invalid');
    const a = await connect('rt-invalid-a');
    await a.joinOk(doc, 'rich-text');
    const rev = await a.opOk(doc, { components: [Ins('abc')] }, 1);
    const cases = [
      [{ components: [Ret(1), Del(-2)] }, 'must not be negative'],
      [{ components: [{ $type: 'insert', attributes: null }] }, 'insert without text'],
      [{ components: [{ $type: 'insert', text: null }] }, 'insert without text'],
      [{ components: [{ $type: 'bold', count: 1 }] }, 'unknown type "bold"'],
      [{ components: [{ type: 'retain', count: 1 }] }, 'no "$type" discriminator'],
      [{ components: [{ $type: 'retain', count: 1.5 }] }, '32-bit integer'],
      [{ components: [{ $type: 'retain', count: 1, attributes: 'bold' }] }, 'attributes must be an object or null'],
      [{ components: [null] }, 'is null'],
      [{ components: null }, 'must not be null'],
      [{ ops: [] }, '"components" is missing'],
    ];
    for (const [op, hint] of cases) {
      const res = await a.op(doc, op, rev);
      assertOpRejected(res, { newRevision: rev }, JSON.stringify(op));
      const message = res.opResponse.errorMessage;
      assert.ok(message.includes('RichTextOp') && message.includes(hint), `error for ${JSON.stringify(op)}: ${message}`);
    }
    const fresh = await connect('rt-invalid-fresh');
    const j = await fresh.joinOk(doc, 'rich-text');
    assert.equal(j.revision, rev);
    assert.equal(j.snapshotText, '{"content":[{"text":"abc","attributes":null}]}');
  });

  it('a concurrent format of the same key: the earlier op wins on the server, the later one is absorbed (§5.8)', async () => {
    const doc = uniqueDoc('rt-format');
    const a = await connect('rt-format-a');
    const b = await connect('rt-format-b');
    await a.joinOk(doc, 'rich-text');
    const base = await a.opOk(doc, { components: [Ins('Hello')] }, 1);
    await b.joinOk(doc, 'rich-text');
    assert.equal(await a.opOk(doc, { components: [Ret(5, { bold: true, italic: true })] }, base), base + 1);
    // b formats from the same base: "bold" is dropped (ExistingWins), "color" survives.
    assert.equal(await b.opOk(doc, { components: [Ret(5, { bold: false, color: 'red' })] }, base), base + 2);
    // only "bold" again: nothing survives, so the op is absorbed (success, no new revision).
    const res = await b.op(doc, { components: [Ret(5, { bold: false })] }, base);
    assert.equal(res.opResponse.success, true);
    assert.equal(res.opResponse.newRevision, base + 2);
    const j = await (await connect('rt-format-c')).joinOk(doc, 'rich-text');
    assert.equal(j.revision, base + 2);
    assert.deepEqual(j.snapshot, { content: [{ text: 'Hello', attributes: { bold: true, color: 'red', italic: true } }] });
  });

  for (const [n, opsPerClient, maxDelayMs, offset] of [[4, 40, 8, 0], [7, 25, 2, 1]]) {
    it(`${n} concurrent OT clients × ${opsPerClient} random rich-text edits converge`, { timeout: 90000 }, async (t) => {
      const seed = (SEED + offset) >>> 0;
      t.diagnostic(`seed=${seed}`);
      const doc = uniqueDoc('rt-conv');
      const clients = [];
      for (let i = 0; i < n; i++) {
        const c = await RichClient.connect(server, doc, `rt-conv${n}-${i}`, i % 2 ? 'richtext' : 'rich-text');
        sockets.push(c.c);
        clients.push(c);
      }
      await Promise.all(clients.map(async (c, idx) => {
        const rng = makeRng((seed ^ Math.imul(idx + 1, 0x9E3779B1)) >>> 0);
        for (let i = 0; i < opsPerClient; i++) {
          const d = rng.int(0, maxDelayMs);
          if (d > 0) await sleep(d); else await new Promise((r) => setImmediate(r));
          c.edit(randomRichOp(rng, c.runs));
        }
      }));
      await Promise.all(clients.map((c) => c.waitFor(() => c.idle, 'all own ops acknowledged')));
      const target = Math.max(...clients.map((c) => c.revision));
      await Promise.all(clients.map((c) => c.waitFor(() => c.revision >= target, `revision ${target}`)));
      for (const c of clients) {
        const expected = [];
        for (let r = c.joinRevision + 1; r <= c.revision; r++) expected.push(r);
        assert.deepEqual(c.seen, expected, `seed=${seed}: ${c.c.label} saw every revision once, in order`);
      }
      const fresh = await connect(`rt-conv${n}-fresh`);
      const j = await fresh.joinOk(doc, 'rich-text');
      assert.equal(j.revision, target, `seed=${seed}: fresh joiner revision`);
      const serverView = rendered(j.snapshot.content);
      for (const c of clients) {
        assert.deepEqual(rendered(c.runs), serverView, `seed=${seed}: ${c.c.label} diverged from the server snapshot`);
      }
      const acks = clients.reduce((s, c) => s + c.acks, 0);
      const absorbed = clients.reduce((s, c) => s + c.absorbed, 0);
      assert.equal(target - 1, acks - absorbed, `seed=${seed}: every stored op has exactly one revision`);
      t.diagnostic(`final revision ${target}, ${acks} acks (${absorbed} absorbed), ${serverView.text.length} units, ` +
        `${j.snapshot.content.length} runs`);
      for (const c of clients) await c.c.close();
    });
  }

  it('the JavaScript port agrees with the engine vectors it implements (self-check)', async () => {
    // converge vectors of engines.md §15, restated: format vs append, format vs replace.
    const doc = [{ text: 'abcdef', attributes: null }];
    const a = { components: [Ret(2), Ret(2, { i: true })] };
    const b = { components: [Ret(1), Del(2), Ins('Z')] };
    const left = applyRich(applyRich(doc, a), transformRich(b, a, ExistingWins));
    const right = applyRich(applyRich(doc, b), transformRich(a, b, IncomingWins));
    assert.deepEqual(left, [{ text: 'aZ', attributes: null }, { text: 'd', attributes: { i: true } }, { text: 'ef', attributes: null }]);
    assert.deepEqual(right, left);
    const rng = makeRng(SEED);
    for (let i = 0; i < 2000; i++) {
      let runs = [];
      for (let k = rng.int(0, 3); k > 0; k--) runs = applyRich(runs, randomRichOp(rng, runs));
      const x = randomRichOp(rng, runs);
      const y = randomRichOp(rng, runs);
      const l = applyRich(applyRich(runs, x), transformRich(y, x, ExistingWins));
      const r = applyRich(applyRich(runs, y), transformRich(x, y, IncomingWins));
      assert.deepEqual(rendered(l), rendered(r), `TP1: ${JSON.stringify({ runs, x, y })}`);
    }
  });
});
