// Standard OT client state machine for `text` documents over /collab-ws
// (one outstanding op awaiting its acknowledgement, further local edits buffered),
// transforming with the priorities of engines.md §3.4. It also checks the delivery
// requirements R1–R3 of wire-protocol.md §2.10 on every message:
//  - the join response arrives before any event (R2);
//  - every revision after the join revision arrives exactly once, in order, either as the
//    acknowledgement of this client's op or as a ReceiveOp (R1, R3).

import { randomUUID } from 'node:crypto';
import { DEFAULT_TIMEOUT_MS, sleep } from './harness.mjs';
import { MT, WsClient, isEvent, opB64, short, unb64 } from './client.mjs';
import { ExistingWins, IncomingWins, applyText, isNoOp, randomTextOp, transform, makeRng } from './text-ot.mjs';

export class OtTextClient {
  constructor(ws, documentId, { label } = {}) {
    this.c = ws;
    this.documentId = documentId;
    this.label = label || ws.label;
    this.doc = null;
    this.revision = null;
    this.joinRevision = null;
    this.pending = null; // {op, cid, transformed}
    this.buffer = [];
    this.revisionsSeen = []; // revisions received as ack or ReceiveOp, in arrival order
    this.acks = 0;
    this.absorbed = 0;
    this.received = 0;
    this.otherEvents = [];
    this.failure = null;
    this._wakers = new Set();
    this._joinCid = null;
    ws.handler = (m) => this._onMessage(m);
    ws.closed.then((info) => {
      if (!this._closing) this._fail(`socket closed unexpectedly (code ${info.code}, reason ${JSON.stringify(info.reason)})`);
    });
  }

  static async connectAndJoin(server, documentId, opts = {}) {
    const ws = await WsClient.connect(server, { label: opts.label });
    const c = new OtTextClient(ws, documentId, opts);
    await c.join();
    return c;
  }

  _fail(msg) {
    if (!this.failure) {
      this.failure = new Error(`[${this.label}] ${msg}` + this.c._serverTail());
    }
    this._wake();
  }

  _wake() {
    for (const w of [...this._wakers]) w();
  }

  waitFor(pred, { timeoutMs = DEFAULT_TIMEOUT_MS, what = 'condition' } = {}) {
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        if (this.failure) { finish(); reject(this.failure); return; }
        if (pred()) { finish(); resolve(); }
      };
      const finish = () => { clearTimeout(timer); this._wakers.delete(check); };
      timer = setTimeout(() => {
        finish();
        reject(new Error(`[${this.label}] timed out after ${timeoutMs} ms waiting for ${what}; ` +
          `revision=${this.revision}, pending=${short(this.pending)}, buffered=${this.buffer.length}` + this.c._serverTail()));
      }, timeoutMs);
      this._wakers.add(check);
      check();
    });
  }

  async join({ timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    this._joinCid = randomUUID();
    this.c.send({
      correlationId: this._joinCid,
      messageType: MT.JoinRequest,
      joinRequest: { documentId: this.documentId, documentType: 'text', clientProtoVersion: 1 },
    });
    await this.waitFor(() => this.revision !== null, { timeoutMs, what: `join response for ${this.documentId}` });
  }

  _onMessage(m) {
    if (this.failure) return;
    if (this.revision === null) {
      if (m.correlationId === this._joinCid && this._joinCid) {
        if (m.messageType !== MT.JoinResponse) { this._fail(`join failed: ${short(m)}`); return; }
        const snap = JSON.parse(unb64(m.joinResponse.snapshot));
        this.doc = snap.content;
        this.revision = m.joinResponse.revision;
        this.joinRevision = this.revision;
        this._wake();
      } else if (isEvent(m)) {
        this._fail(`R2 violated: event received before the join response: ${short(m)}`);
      } else {
        this._fail(`unexpected message before the join response: ${short(m)}`);
      }
      return;
    }
    switch (m.messageType) {
      case MT.OpResponse: this._onAck(m); break;
      case MT.ReceiveOpEvent: this._onReceive(m); break;
      case MT.ReceiveAwarenessEvent:
      case MT.PeerDisconnectedEvent:
        this.otherEvents.push(m);
        break;
      default:
        this._fail(`unexpected message: ${short(m)}`);
    }
    this._wake();
  }

  _onAck(m) {
    if (!this.pending || m.correlationId !== this.pending.cid) {
      this._fail(`acknowledgement without a matching pending op: ${short(m)} (pending ${short(this.pending)})`);
      return;
    }
    const r = m.opResponse;
    if (!r || r.success !== true) {
      this._fail(`op rejected by the server: ${short(m)}; op sent with baseRevision ${this.pending.baseRevision}: ${short(this.pending.sent)}`);
      return;
    }
    if (isNoOp(this.pending.op)) {
      // transformed into a no-op by concurrent ops: the server absorbs it (wire-protocol §2.5 step 6)
      if (r.newRevision !== this.revision) {
        this._fail(`absorbed op should be acknowledged with the current revision ${this.revision}, got ${short(m)}`);
        return;
      }
      this.absorbed++;
    } else {
      if (r.newRevision !== this.revision + 1) {
        this._fail(`R1/R3 violated: acknowledgement carries revision ${r.newRevision}, expected ${this.revision + 1} ` +
          `(revisions seen so far: ${this.revisionsSeen.slice(-10).join(',')})`);
        return;
      }
      this.revision = r.newRevision;
      this.revisionsSeen.push(r.newRevision);
    }
    this.acks++;
    this.pending = null;
    this._flush();
  }

  _onReceive(m) {
    if (!(m.correlationId === null || m.correlationId === undefined)) {
      this._fail(`ReceiveOp carries a correlationId: ${short(m)}`);
      return;
    }
    const ev = m.receiveOpEvent;
    if (!ev || ev.newRevision !== this.revision + 1) {
      this._fail(`R1 violated: ReceiveOp with revision ${ev && ev.newRevision}, expected ${this.revision + 1} ` +
        `(revisions seen so far: ${this.revisionsSeen.slice(-10).join(',')})`);
      return;
    }
    let x;
    try {
      x = JSON.parse(unb64(ev.payload));
    } catch (e) {
      this._fail(`ReceiveOp payload is not base64 JSON: ${short(m)}`);
      return;
    }
    if (this.pending) {
      const x1 = transform(x, this.pending.op, IncomingWins);
      this.pending.op = transform(this.pending.op, x, ExistingWins);
      x = x1;
    }
    for (let i = 0; i < this.buffer.length; i++) {
      const x1 = transform(x, this.buffer[i], IncomingWins);
      this.buffer[i] = transform(this.buffer[i], x, ExistingWins);
      x = x1;
    }
    try {
      this.doc = applyText(this.doc, x);
    } catch (e) {
      this._fail(`cannot apply received op ${short(x)}: ${e.message}`);
      return;
    }
    this.revision = ev.newRevision;
    this.revisionsSeen.push(ev.newRevision);
    this.received++;
  }

  _flush() {
    while (!this.pending && this.buffer.length > 0) {
      const op = this.buffer.shift();
      if (isNoOp(op)) continue; // cancelled by concurrent edits; nothing to send
      this._send(op);
    }
  }

  _send(op) {
    const cid = randomUUID();
    const sent = JSON.parse(JSON.stringify(op));
    this.pending = { op, cid, baseRevision: this.revision, sent };
    this.c.send({
      correlationId: cid,
      messageType: MT.OpRequest,
      opRequest: { documentId: this.documentId, payload: opB64(op), baseRevision: this.revision },
    });
  }

  /** Apply a local edit and send it (or buffer it while an op is outstanding). */
  edit(op) {
    if (this.failure) throw this.failure;
    this.doc = applyText(this.doc, op);
    if (this.pending) this.buffer.push(op);
    else this._send(op);
  }

  get idle() {
    return !this.pending && this.buffer.length === 0;
  }

  waitIdle(opts = {}) {
    return this.waitFor(() => this.idle, { what: 'all own ops acknowledged', ...opts });
  }

  waitRevision(rev, opts = {}) {
    return this.waitFor(() => this.revision >= rev, { what: `revision ${rev}`, ...opts });
  }

  /** Checks R1 over the whole run: revisions joinRevision+1 .. revision, each exactly once, in order. */
  checkRevisionSequence() {
    const expected = [];
    for (let r = this.joinRevision + 1; r <= this.revision; r++) expected.push(r);
    const got = this.revisionsSeen;
    if (got.length !== expected.length || got.some((v, i) => v !== expected[i])) {
      throw new Error(`[${this.label}] revision sequence has gaps or duplicates: joined at ${this.joinRevision}, ` +
        `now ${this.revision}, seen ${got.join(',')}`);
    }
  }

  async close() {
    this._closing = true;
    return this.c.close();
  }

  terminate() {
    this._closing = true;
    this.c.terminate();
  }
}

/**
 * Let every client perform `opsPerClient` random edits concurrently, then wait until all are
 * idle and at the same revision. Returns the final revision.
 */
export async function runRandomEditing(clients, { seed, opsPerClient = 25, maxDelayMs = 12, settleTimeoutMs = 20000 } = {}) {
  const loops = clients.map(async (c, idx) => {
    const rng = makeRng((seed ^ Math.imul(idx + 1, 0x9E3779B1)) >>> 0);
    for (let i = 0; i < opsPerClient; i++) {
      const d = rng.int(0, maxDelayMs);
      if (d > 0) await sleep(d); else await new Promise((r) => setImmediate(r));
      if (c.failure) throw c.failure;
      c.edit(randomTextOp(rng, c.doc));
    }
  });
  await Promise.all(loops);
  await Promise.all(clients.map((c) => c.waitIdle({ timeoutMs: settleTimeoutMs })));
  const target = Math.max(...clients.map((c) => c.revision));
  await Promise.all(clients.map((c) => c.waitRevision(target, { timeoutMs: settleTimeoutMs })));
  for (const c of clients) if (c.failure) throw c.failure;
  return target;
}
