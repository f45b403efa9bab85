// WebSocket client wrapper for /collab-ws built on the official `ws` package.
//
// Every received frame is parsed as JSON and queued; tests take messages out of the queue
// with next(predicate) (waiting with a timeout) or assert silence with expectNoMessage().
// Error messages on timeouts include the unconsumed queue and the server's log tail.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { DEFAULT_TIMEOUT_MS, within } from './harness.mjs';

export const MT = Object.freeze({
  JoinRequest: 0,
  JoinResponse: 1,
  OpRequest: 2,
  OpResponse: 3,
  AwarenessRequest: 4,
  ReceiveOpEvent: 5,
  ReceiveAwarenessEvent: 6,
  PeerDisconnectedEvent: 7,
  ErrorResponse: 8,
});

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// YYYY-MM-DDTHH:MM:SS[.f{1,7}]+00:00, fraction without trailing zeros (§0.3)
export const TS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{0,6}[1-9])?\+00:00$/;

export const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');
export const unb64 = (s) => Buffer.from(s, 'base64').toString('utf8');
export const opB64 = (op) => b64(JSON.stringify(op));

export function textOp(...components) {
  return { components };
}
export const R = (count) => ({ type: 'retain', count });
export const I = (text) => ({ type: 'insert', text });
export const D = (count) => ({ type: 'delete', count });

function short(v, max = 400) {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max)}…(${s.length} chars)` : s;
}

let clientCounter = 0;

export class WsClient {
  constructor(ws, { label, server }) {
    this.ws = ws;
    this.label = label;
    this.server = server;
    this.queue = [];
    this.received = [];
    this.binaryFrames = 0;
    this.unparsable = [];
    this.errors = [];
    this.closeInfo = null;
    this.handler = null; // when set, messages go to handler(msg) instead of the queue
    this._wakers = new Set();
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        resolve(this.closeInfo);
        this._wake();
      });
    });
    ws.on('error', (e) => { this.errors.push(e); this._wake(); });
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.binaryFrames++;
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data).toString('utf8');
      let msg;
      try {
        msg = JSON.parse(text);
      } catch {
        this.unparsable.push(text);
        msg = { __unparsable: text };
      }
      this.received.push(msg);
      if (this.handler) {
        try { this.handler(msg); } catch (e) { this.handlerError = this.handlerError || e; }
      } else {
        this.queue.push(msg);
      }
      this._wake();
    });
  }

  static connect(server, { path = '/collab-ws', label, timeoutMs = DEFAULT_TIMEOUT_MS, wsOptions = {} } = {}) {
    const name = label || `client#${++clientCounter}`;
    const url = `${server.wsBase}${path}`;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { handshakeTimeout: timeoutMs, perMessageDeflate: false, ...wsOptions });
      const c = new WsClient(ws, { label: name, server });
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`[${name}] WebSocket connect to ${url} timed out after ${timeoutMs} ms` + c._serverTail()));
      }, timeoutMs + 500);
      ws.once('open', () => { clearTimeout(timer); resolve(c); });
      ws.once('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        reject(new Error(`[${name}] WebSocket upgrade to ${url} refused with HTTP ${res.statusCode}` + c._serverTail()));
        ws.terminate();
      });
      ws.once('error', (e) => { clearTimeout(timer); reject(new Error(`[${name}] WebSocket connect to ${url} failed: ${e.message}` + c._serverTail())); });
    });
  }

  _serverTail() {
    if (!this.server || typeof this.server.logTail !== 'function') return '';
    return `\n--- server exit=${JSON.stringify(this.server.exit)}; output (tail) ---\n${this.server.logTail(25)}`;
  }

  _wake() {
    for (const w of [...this._wakers]) w();
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(obj) {
    this.ws.send(JSON.stringify(obj));
  }

  sendRaw(data, { binary = false } = {}) {
    this.ws.send(data, { binary });
  }

  /**
   * Remove and return the first queued message for which pred(msg) holds, waiting up to timeoutMs.
   */
  next(pred = () => true, { timeoutMs = DEFAULT_TIMEOUT_MS, what = 'a message' } = {}) {
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        const i = this.queue.findIndex((m) => { try { return pred(m); } catch { return false; } });
        if (i >= 0) {
          finish();
          resolve(this.queue.splice(i, 1)[0]);
          return;
        }
        if (this.closeInfo) {
          finish();
          reject(new Error(`[${this.label}] socket closed (code ${this.closeInfo.code}, reason ${JSON.stringify(this.closeInfo.reason)}) ` +
            `while waiting for ${what}; unconsumed: ${short(this.queue, 1500)}` + this._serverTail()));
        }
      };
      const finish = () => { clearTimeout(timer); this._wakers.delete(check); };
      timer = setTimeout(() => {
        finish();
        reject(new Error(`[${this.label}] timed out after ${timeoutMs} ms waiting for ${what}; ` +
          `unconsumed messages: ${short(this.queue, 1500)}; socket readyState=${this.ws.readyState}` + this._serverTail()));
      }, timeoutMs);
      this._wakers.add(check);
      check();
    });
  }

  /** Assert that no message matching pred arrives within ms (already queued ones count). */
  async expectNoMessage(ms = 300, pred = () => true, what = 'any message') {
    await new Promise((r) => setTimeout(r, ms));
    const found = this.queue.filter((m) => { try { return pred(m); } catch { return false; } });
    assert.equal(found.length, 0, `[${this.label}] expected no ${what} within ${ms} ms, got: ${short(found, 1500)}`);
  }

  /** Take every queued message (for inspection). */
  drain() {
    return this.queue.splice(0, this.queue.length);
  }

  /** Send envelope with a fresh correlationId (unless given) and wait for the message carrying it. */
  async request(envelope, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    const correlationId = envelope.correlationId !== undefined ? envelope.correlationId : randomUUID();
    const env = { ...envelope, correlationId };
    this.send(env);
    return this.next((m) => m.correlationId === correlationId, {
      timeoutMs, what: `the response to ${short(env, 300)}`,
    });
  }

  join(documentId, documentType = 'text', { clientProtoVersion = 1, ...rest } = {}) {
    return this.request({ messageType: MT.JoinRequest, joinRequest: { documentId, documentType, clientProtoVersion }, ...rest });
  }

  /** Join and assert success; returns {revision, snapshotText, snapshot, awareness, raw}. */
  async joinOk(documentId, documentType = 'text') {
    const res = await this.join(documentId, documentType);
    assert.equal(res.messageType, MT.JoinResponse,
      `[${this.label}] join ${documentId}/${documentType} should succeed, got ${short(res)}`);
    const jr = res.joinResponse;
    assert.ok(jr && typeof jr === 'object', `[${this.label}] joinResponse missing: ${short(res)}`);
    const snapshotText = unb64(jr.snapshot);
    return { revision: jr.revision, snapshotText, snapshot: JSON.parse(snapshotText), awareness: jr.awareness, raw: res };
  }

  /** Send an op; payload is an op object or {b64: '...'}; returns the response envelope. */
  op(documentId, payload, baseRevision, extra = {}) {
    const p = payload && typeof payload === 'object' && 'b64' in payload ? payload.b64 : opB64(payload);
    return this.request({ messageType: MT.OpRequest, opRequest: { documentId, payload: p, baseRevision }, ...extra });
  }

  /** Send an op and assert the acknowledgement is success; returns newRevision. */
  async opOk(documentId, payload, baseRevision) {
    const res = await this.op(documentId, payload, baseRevision);
    assert.equal(res.messageType, MT.OpResponse, `[${this.label}] expected an OpResponse (3), got ${short(res)}`);
    assert.equal(res.opResponse.success, true, `[${this.label}] op should succeed, got ${short(res)}`);
    return res.opResponse.newRevision;
  }

  /** Publish presence like the bundled clients (no correlationId; dataJson is JSON text). */
  awareness(documentId, data, { raw = false } = {}) {
    const dataJson = raw ? data : JSON.stringify(data);
    this.send({ messageType: MT.AwarenessRequest, awarenessRequest: { documentId, dataJson } });
  }

  async close(code = 1000, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    if (this.closeInfo) return this.closeInfo;
    try { this.ws.close(code); } catch { /* ignore */ }
    const res = await within(this.closed, timeoutMs);
    if (!res) {
      this.ws.terminate();
      throw new Error(`[${this.label}] close handshake not completed within ${timeoutMs} ms` + this._serverTail());
    }
    return res;
  }

  terminate() {
    this.ws.terminate();
  }
}

// ---- assertion helpers -------------------------------------------------------------

export function isEvent(m) {
  return m && (m.messageType === MT.ReceiveOpEvent || m.messageType === MT.ReceiveAwarenessEvent ||
    m.messageType === MT.PeerDisconnectedEvent);
}

export function assertError(res, text, what = '') {
  assert.equal(res.messageType, MT.ErrorResponse, `${what} expected ErrorResponse (8) "${text}", got ${short(res)}`);
  assert.equal(res.errorMessage, text, `${what} wrong error text; full message ${short(res)}`);
}

export function assertInvalidMessage(res, what = '') {
  assert.equal(res.messageType, MT.ErrorResponse, `${what} expected ErrorResponse (8) "InvalidMessage: …", got ${short(res)}`);
  assert.equal(typeof res.errorMessage, 'string', `${what} errorMessage must be a string: ${short(res)}`);
  assert.ok(res.errorMessage.startsWith('InvalidMessage: ') && res.errorMessage.length > 'InvalidMessage: '.length,
    `${what} errorMessage should start with "InvalidMessage: " and name the problem, got ${JSON.stringify(res.errorMessage)}`);
}

export function assertOpRejected(res, { newRevision, errorMessage } = {}, what = '') {
  assert.equal(res.messageType, MT.OpResponse, `${what} expected OpResponse (3) with success:false, got ${short(res)}`);
  assert.equal(res.opResponse.success, false, `${what} expected success:false, got ${short(res)}`);
  if (newRevision !== undefined) {
    assert.equal(res.opResponse.newRevision, newRevision, `${what} newRevision should be the current revision; got ${short(res)}`);
  }
  if (errorMessage !== undefined) {
    assert.equal(res.opResponse.errorMessage, errorMessage, `${what} wrong errorMessage; got ${short(res)}`);
  } else {
    assert.equal(typeof res.opResponse.errorMessage, 'string', `${what} errorMessage should be a string: ${short(res)}`);
    assert.ok(res.opResponse.errorMessage.length > 0, `${what} errorMessage should not be empty`);
  }
}

export function assertNullish(v, what) {
  assert.ok(v === null || v === undefined, `${what} should be null (or omitted), got ${JSON.stringify(v)}`);
}

let docCounter = 0;
/** A document id unique within this test process. */
export function uniqueDoc(prefix = 'doc') {
  return `${prefix}-${process.pid}-${++docCounter}`;
}

export { short };
