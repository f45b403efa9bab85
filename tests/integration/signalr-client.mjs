// Helpers for the SignalR integration tests (signalr*.test.mjs): connections built with the
// official `@microsoft/signalr` client, an OT text client over the collaboration hub, and a raw
// WebSocket speaker of the SignalR JSON hub protocol for byte-level tests.
//
// The OT client sees hub messages in wire order: it wraps the hub protocol, so acknowledgements
// (SendOp completions) and ReceiveOp events go through one state machine exactly in the order the
// server sent them (the client library would otherwise run completion continuations after every
// event handler of the same transport message). It checks R1–R3 of wire-protocol §2.10.

import * as signalR from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import WebSocket from 'ws';
import { DEFAULT_TIMEOUT_MS, sleep } from './lib/harness.mjs';
import { applyText, isNoOp, transform, ExistingWins, IncomingWins } from './lib/text-ot.mjs';

export const TRANSPORTS = ['WebSockets', 'ServerSentEvents', 'LongPolling'];
export const RS = '\x1e';
export const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');
export const unb64 = (s) => Buffer.from(s, 'base64').toString('utf8');
export const opB64 = (op) => b64(JSON.stringify(op));
/** A byte-string value as received: base64 text (JSON protocol) or bytes (MessagePack). */
export const bytesText = (v) => (typeof v === 'string' ? unb64(v) : Buffer.from(v).toString('utf8'));
/** An op payload in the protocol's natural form. */
export const opPayload = (op, protocol = 'json') => (protocol === 'messagepack' ? new Uint8Array(Buffer.from(JSON.stringify(op))) : opB64(op));

/** Wraps a hub protocol so that `onMessage` sees every parsed message synchronously, in order. */
export class TappedProtocol {
  constructor(inner) {
    this.inner = inner;
    this.name = inner.name;
    this.version = inner.version;
    this.transferFormat = inner.transferFormat;
    this.onMessage = null;
    this.onWrite = null;
  }

  parseMessages(input, logger) {
    const messages = this.inner.parseMessages(input, logger);
    if (this.onMessage) for (const m of messages) this.onMessage(m);
    return messages;
  }

  writeMessage(message) {
    if (this.onWrite) this.onWrite(message);
    return this.inner.writeMessage(message);
  }
}

export function makeProtocol(name = 'json') {
  return name === 'messagepack' ? new MessagePackHubProtocol() : new signalR.JsonHubProtocol();
}

/**
 * A HubConnection to `server` on `path` over one transport (a name of TRANSPORTS).
 * options: protocol ('json' | 'messagepack' | a protocol object), reconnectDelays (array of ms),
 * skipNegotiation, logLevel.
 */
export function buildHub(server, { path = '/collab', transport = 'WebSockets', protocol = 'json', reconnectDelays,
  skipNegotiation = false, logLevel = signalR.LogLevel.None } = {}) {
  const b = new signalR.HubConnectionBuilder()
    .withUrl(`${server.url}${path}`, { transport: signalR.HttpTransportType[transport], skipNegotiation })
    .withHubProtocol(typeof protocol === 'string' ? makeProtocol(protocol) : protocol)
    .configureLogging(logLevel);
  if (reconnectDelays) b.withAutomaticReconnect(reconnectDelays);
  return b.build();
}

export async function startHub(server, opts = {}) {
  const c = buildHub(server, opts);
  await c.start();
  return c;
}

/** Resolves when `pred()` holds, polling every 5 ms. */
export async function until(pred, { timeoutMs = DEFAULT_TIMEOUT_MS, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** OT client for `text` documents over the collaboration hub; the same interface as OtTextClient. */
export class SrOtClient {
  constructor(server, documentId, { transport = 'WebSockets', protocol = 'json', label } = {}) {
    this.server = server;
    this.documentId = documentId;
    this.label = label || `${transport}/${protocol}`;
    this.protocol = protocol;
    this.tap = new TappedProtocol(makeProtocol(protocol));
    this.hub = buildHub(server, { transport, protocol: this.tap });
    this.doc = null;
    this.revision = null;
    this.joinRevision = null;
    this.pending = null; // {op, invocationId, baseRevision}
    this.buffer = [];
    this.revisionsSeen = [];
    this.acks = 0;
    this.absorbed = 0;
    this.received = 0;
    this.otherEvents = [];
    this.failure = null;
    this._joinId = null;
    this._closing = false;
    this.tap.onWrite = (m) => {
      if (m.type !== 1 || m.invocationId === undefined) return;
      if (m.target === 'JoinDocument') this._joinId = m.invocationId;
      else if (m.target === 'SendOp' && this.pending && this.pending.invocationId === undefined) this.pending.invocationId = m.invocationId;
    };
    this.tap.onMessage = (m) => this._onMessage(m);
    for (const name of ['ReceiveOp', 'ReceiveAwarenessUpdate', 'PeerDisconnected']) this.hub.on(name, () => {});
    this.hub.onclose((e) => { if (!this._closing) this._fail(`connection closed unexpectedly: ${e && e.message}`); });
  }

  static async connectAndJoin(server, documentId, opts = {}) {
    const c = new SrOtClient(server, documentId, opts);
    await c.hub.start();
    await c.hub.invoke('JoinDocument', documentId, 'text', 1);
    await c.waitFor(() => c.revision !== null, { what: 'join result' });
    return c;
  }

  _fail(msg) {
    if (!this.failure) this.failure = new Error(`[${this.label}] ${msg}`);
  }

  waitFor(pred, { timeoutMs = DEFAULT_TIMEOUT_MS, what = 'condition' } = {}) {
    return until(() => { if (this.failure) throw this.failure; return pred(); }, { timeoutMs, what: `[${this.label}] ${what}` });
  }

  _onMessage(m) {
    if (this.failure) return;
    if (m.type === 3 && m.invocationId === this._joinId && this.revision === null) {
      if (m.error) { this._fail(`join failed: ${m.error}`); return; }
      this.doc = JSON.parse(bytesText(m.result.snapshot)).content;
      this.revision = m.result.revision;
      this.joinRevision = this.revision;
      if (!Array.isArray(m.result.pendingOps) || m.result.pendingOps.length !== 0) this._fail('pendingOps is not []');
      return;
    }
    if (m.type === 1 && this.revision === null) { this._fail(`R2 violated: event ${m.target} before the join result`); return; }
    if (m.type === 3 && this.pending && m.invocationId === this.pending.invocationId) { this._onAck(m); return; }
    if (m.type === 1 && m.target === 'ReceiveOp') { this._onReceive(m.arguments); return; }
    if (m.type === 1) this.otherEvents.push(m);
  }

  _onAck(m) {
    if (m.error) { this._fail(`SendOp failed: ${m.error}`); return; }
    const r = m.result;
    if (!r || r.success !== true) { this._fail(`op rejected: ${JSON.stringify(r)}`); return; }
    if (isNoOp(this.pending.op)) {
      if (r.newRevision !== this.revision) { this._fail(`absorbed op acked with ${r.newRevision}, expected ${this.revision}`); return; }
      this.absorbed++;
    } else {
      if (r.newRevision !== this.revision + 1) { this._fail(`R1/R3 violated: ack revision ${r.newRevision}, expected ${this.revision + 1}`); return; }
      this.revision = r.newRevision;
      this.revisionsSeen.push(r.newRevision);
    }
    this.acks++;
    this.pending = null;
    this._flush();
  }

  _onReceive([payload, newRevision]) {
    if (newRevision !== this.revision + 1) { this._fail(`R1 violated: ReceiveOp ${newRevision}, expected ${this.revision + 1}`); return; }
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'base64') : Buffer.from(payload);
    let x = JSON.parse(bytes.toString('utf8'));
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
    this.doc = applyText(this.doc, x);
    this.revision = newRevision;
    this.revisionsSeen.push(newRevision);
    this.received++;
  }

  _flush() {
    while (!this.pending && this.buffer.length > 0) {
      const op = this.buffer.shift();
      if (isNoOp(op)) continue;
      this._send(op);
    }
  }

  _send(op) {
    this.pending = { op, invocationId: undefined, baseRevision: this.revision };
    this.hub.invoke('SendOp', this.documentId, opPayload(op, this.protocol), this.revision).catch((e) => this._fail(`SendOp: ${e.message}`));
  }

  edit(op) {
    if (this.failure) throw this.failure;
    this.doc = applyText(this.doc, op);
    if (this.pending) this.buffer.push(op);
    else this._send(op);
  }

  get idle() { return !this.pending && this.buffer.length === 0; }
  waitIdle(opts = {}) { return this.waitFor(() => this.idle, { what: 'all own ops acknowledged', ...opts }); }
  waitRevision(rev, opts = {}) { return this.waitFor(() => this.revision >= rev, { what: `revision ${rev}`, ...opts }); }

  checkRevisionSequence() {
    const got = this.revisionsSeen;
    for (let i = 0; i < got.length; i++) {
      if (got[i] !== this.joinRevision + 1 + i) throw new Error(`[${this.label}] revision sequence has gaps: ${got.join(',')}`);
    }
    if (this.joinRevision + got.length !== this.revision) throw new Error(`[${this.label}] revision count mismatch`);
  }

  async close() {
    this._closing = true;
    await this.hub.stop();
  }

  terminate() {
    this._closing = true;
    this.hub.stop().catch(() => {});
  }
}

/** Raw SignalR over `ws`: negotiate, WebSocket, handshake; records in, parsed records out. */
export class RawHub {
  static async connect(server, { path = '/collab', negotiate = true, handshake = '{"protocol":"json","version":1}' } = {}) {
    const r = new RawHub();
    let id = null;
    if (negotiate) {
      const res = await fetch(`${server.url}${path}/negotiate?negotiateVersion=1`, { method: 'POST' });
      r.negotiation = await res.json();
      id = r.negotiation.connectionToken;
    }
    const url = `${server.wsBase}${path}${id ? `?id=${encodeURIComponent(id)}` : ''}`;
    r.ws = new WebSocket(url, { perMessageDeflate: false });
    r.text = '';
    r.frames = [];
    r.closed = new Promise((resolve) => r.ws.on('close', (code) => resolve(code)));
    r.ws.on('message', (data) => { const t = data.toString('utf8'); r.frames.push(t); r.text += t; });
    r.ws.on('error', () => {});
    await new Promise((resolve, reject) => { r.ws.once('open', resolve); r.ws.once('error', reject); r.ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`))); });
    if (handshake !== null) {
      r.send(handshake + RS);
      r.handshakeResponse = await r.next();
    }
    return r;
  }

  send(text) { this.ws.send(text); }
  sendJson(obj) { this.ws.send(JSON.stringify(obj) + RS); }

  /** The next complete record, parsed (throws on timeout). */
  async next({ timeoutMs = DEFAULT_TIMEOUT_MS, skipPings = true } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.text.indexOf(RS);
      if (i >= 0) {
        const rec = JSON.parse(this.text.slice(0, i));
        this.text = this.text.slice(i + 1);
        if (skipPings && rec.type === 6) continue;
        return rec;
      }
      if (Date.now() > deadline) throw new Error(`no record within ${timeoutMs} ms (buffer ${JSON.stringify(this.text.slice(0, 200))})`);
      await sleep(5);
    }
  }

  /** Invokes and returns the completion for that invocation id (events before it are collected). */
  async invoke(target, args, id = String(RawHub.counter++)) {
    this.sendJson({ type: 1, invocationId: id, target, arguments: args });
    this.events = this.events || [];
    for (;;) {
      const m = await this.next();
      if (m.type === 3 && m.invocationId === id) return m;
      this.events.push(m);
    }
  }

  close() { this.ws.close(); }
  terminate() { this.ws.terminate(); }
}
RawHub.counter = 100;
