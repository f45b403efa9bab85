// gRPC clients for the conformance tests, built on the official @grpc/grpc-js and
// @grpc/proto-loader packages loading the project's proto/opstream.proto.
//
// GrpcConnect wraps one opstream.OpStreamService/Connect call. Received ServerMessages are queued
// (next(predicate) waits with a timeout). asWsLike() presents the call with the /collab-ws
// envelope shape, so the OT client state machine of lib/ot-client.mjs drives gRPC peers unchanged.

import path from 'node:path';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { DEFAULT_TIMEOUT_MS, TEST_DIR } from './harness.mjs';
import { MT } from './client.mjs';

export const PROTO_FILE = path.resolve(TEST_DIR, '../../proto/opstream.proto');

const definition = protoLoader.loadSync(PROTO_FILE, {
  keepCase: false, longs: Number, enums: String, defaults: false, oneofs: true,
});
export const proto = grpc.loadPackageDefinition(definition).opstream;
export { grpc };

export function target(server) {
  return `127.0.0.1:${server.port}`;
}

const clientOptions = { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 };

const openClients = new Set();

export function serviceClient(server, name, options = {}) {
  const client = new proto[name](target(server), grpc.credentials.createInsecure(), { ...clientOptions, ...options });
  openClients.add(client);
  return client;
}

// Closes every channel this module opened, so the test process can exit.
export function closeAllClients() {
  for (const c of openClients) c.close();
  openClients.clear();
}

export class GrpcConnect {
  constructor(server, { label = 'grpc', deadline, metadata, channelOptions } = {}) {
    this.label = label;
    this.client = serviceClient(server, 'OpStreamService', channelOptions);
    this.call = this.client.Connect(metadata || new grpc.Metadata(), deadline ? { deadline } : {});
    this.queue = [];
    this.received = [];
    this.handler = null;
    this.status = null;
    this.error = null;
    this._wakers = new Set();
    this.call.on('data', (m) => {
      this.received.push(m);
      if (this.handler) this.handler(m);
      else this.queue.push(m);
      this._wake();
    });
    this.call.on('error', (e) => { this.error = e; this._wake(); });
    this.ended = new Promise((resolve) => {
      this.call.on('status', (s) => { this.status = s; this._wake(); resolve(s); });
    });
  }

  _wake() {
    for (const w of [...this._wakers]) w();
  }

  write(message) {
    this.call.write(message);
  }

  next(pred = () => true, { timeoutMs = DEFAULT_TIMEOUT_MS, what = 'a message' } = {}) {
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        const i = this.queue.findIndex(pred);
        if (i >= 0) { finish(); resolve(this.queue.splice(i, 1)[0]); return; }
        if (this.status) { finish(); reject(new Error(`[${this.label}] call ended (${this.status.code} ${this.status.details}) while waiting for ${what}`)); }
      };
      const finish = () => { clearTimeout(timer); this._wakers.delete(check); };
      timer = setTimeout(() => {
        finish();
        reject(new Error(`[${this.label}] timed out waiting for ${what}; queue=${JSON.stringify(this.queue).slice(0, 400)}`));
      }, timeoutMs);
      this._wakers.add(check);
      check();
    });
  }

  async expectNoMessage(ms = 300, pred = () => true) {
    await new Promise((r) => setTimeout(r, ms));
    const found = this.queue.find(pred);
    if (found) throw new Error(`[${this.label}] unexpected message ${JSON.stringify(found)}`);
  }

  async request(message, opts) {
    this.write(message);
    return this.next((m) => m.correlationId === message.correlationId, { what: `answer to ${message.correlationId}`, ...opts });
  }

  join(correlationId, documentId, documentType = 'text', clientProtoVersion = 1) {
    return this.request({ correlationId, joinRequest: { documentId, documentType, clientProtoVersion } });
  }

  op(correlationId, documentId, op, baseRevision) {
    const payload = Buffer.isBuffer(op) ? op : Buffer.from(JSON.stringify(op), 'utf8');
    return this.request({ correlationId, opRequest: { documentId, payload, baseRevision } });
  }

  awareness(documentId, data) {
    this.write({ correlationId: '', awarenessRequest: { documentId, dataJson: JSON.stringify(data) } });
  }

  // Half-closes and waits for the final status.
  async end({ timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    this.call.end();
    const s = await Promise.race([this.ended, new Promise((r) => setTimeout(() => r(null), timeoutMs))]);
    this.client.close();
    return s;
  }

  cancel() {
    this.call.cancel();
    this.client.close();
  }

  // The /collab-ws client surface used by OtTextClient.
  asWsLike() {
    const self = this;
    const ws = {
      label: this.label,
      handler: null,
      closed: this.ended.then((s) => ({ code: s.code, reason: s.details })),
      _serverTail: () => '',
      send(envelope) {
        const cid = envelope.correlationId ?? '';
        switch (envelope.messageType) {
          case MT.JoinRequest:
            self.write({ correlationId: cid, joinRequest: envelope.joinRequest });
            break;
          case MT.OpRequest: {
            const o = envelope.opRequest;
            self.write({ correlationId: cid, opRequest: { documentId: o.documentId, payload: Buffer.from(o.payload, 'base64'), baseRevision: o.baseRevision } });
            break;
          }
          case MT.AwarenessRequest:
            self.write({ correlationId: cid, awarenessRequest: envelope.awarenessRequest });
            break;
          default:
            throw new Error(`no gRPC mapping for ${JSON.stringify(envelope)}`);
        }
      },
      close: () => self.end(),
      terminate: () => self.cancel(),
    };
    this.handler = (m) => ws.handler && ws.handler(toEnvelope(m));
    return ws;
  }
}

// A ServerMessage in the /collab-ws envelope shape (events: correlationId null).
export function toEnvelope(m) {
  const correlationId = m.correlationId ? m.correlationId : null;
  switch (m.messageType) {
    case 'joinResponse':
      return { correlationId, messageType: MT.JoinResponse, joinResponse: {
        revision: m.joinResponse.revision ?? 0,
        snapshot: Buffer.from(m.joinResponse.snapshot || []).toString('base64'),
        awareness: m.joinResponse.awareness || [] } };
    case 'opResponse':
      return { correlationId, messageType: MT.OpResponse, opResponse: {
        success: m.opResponse.success ?? false, newRevision: m.opResponse.newRevision ?? 0,
        errorMessage: m.opResponse.errorMessage || null } };
    case 'receiveOpEvent':
      return { correlationId, messageType: MT.ReceiveOpEvent, receiveOpEvent: {
        payload: Buffer.from(m.receiveOpEvent.payload || []).toString('base64'),
        newRevision: m.receiveOpEvent.newRevision ?? 0 } };
    case 'receiveAwarenessEvent':
      return { correlationId, messageType: MT.ReceiveAwarenessEvent, receiveAwarenessEvent: m.receiveAwarenessEvent };
    case 'peerDisconnectedEvent':
      return { correlationId, messageType: MT.PeerDisconnectedEvent, peerDisconnectedEvent: m.peerDisconnectedEvent };
    case 'errorResponse':
      return { correlationId, messageType: MT.ErrorResponse, errorMessage: m.errorResponse.message };
    default:
      return { correlationId, messageType: -1, raw: m };
  }
}

// Promisified unary call: resolves {response} or {error}.
export function unary(client, method, request, options = {}) {
  return new Promise((resolve) => {
    client[method](request, options, (error, response) => resolve(error ? { error } : { response }));
  });
}
