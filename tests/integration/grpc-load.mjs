#!/usr/bin/env node
// Load driver for the gRPC transport (not part of the test suite).
//   node grpc-load.mjs HOST:PORT [clients=32] [opsPerClient=500] [mode=own|shared]
// own:    every client edits its own document (acknowledgement round trips).
// shared: every client edits one document; each op is also broadcast to the other clients.
// Prints ops/s and acknowledgement latency percentiles.
import { randomUUID } from 'node:crypto';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { PROTO_FILE } from './lib/grpc-client.mjs';

const [target = '127.0.0.1:8080', clientsArg = '32', opsArg = '500', mode = 'own'] = process.argv.slice(2);
const clients = Number(clientsArg);
const opsPerClient = Number(opsArg);
const proto = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO_FILE, { longs: Number, oneofs: true })).opstream;
const sharedDoc = `load-${randomUUID()}`;

function runClient(i) {
  return new Promise((resolve, reject) => {
    const client = new proto.OpStreamService(target, grpc.credentials.createInsecure());
    const call = client.Connect();
    const doc = mode === 'shared' ? sharedDoc : `load-${randomUUID()}`;
    const latencies = [];
    let revision = 0;
    let sent = 0;
    let sentAt = 0;
    let received = 0;
    const sendNext = () => {
      if (sent === opsPerClient) { call.end(); return; }
      sent++;
      sentAt = process.hrtime.bigint();
      // Inserting at the start is valid against any revision, so no client-side transform is needed.
      call.write({ correlationId: `o${sent}`, opRequest: { documentId: doc, payload: Buffer.from(`{"components":[{"type":"insert","text":"c${i}"}]}`), baseRevision: revision } });
    };
    call.on('data', (m) => {
      if (m.joinResponse) { revision = m.joinResponse.revision; sendNext(); return; }
      if (m.receiveOpEvent) { received++; revision = Math.max(revision, m.receiveOpEvent.newRevision); return; }
      if (m.opResponse) {
        if (!m.opResponse.success) { reject(new Error(m.opResponse.errorMessage)); return; }
        latencies.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
        revision = Math.max(revision, m.opResponse.newRevision);
        sendNext();
      }
    });
    call.on('error', reject);
    call.on('status', () => { client.close(); resolve({ latencies, received }); });
    call.write({ correlationId: 'j', joinRequest: { documentId: doc, documentType: 'text', clientProtoVersion: 1 } });
  });
}

const start = process.hrtime.bigint();
const results = await Promise.all(Array.from({ length: clients }, (_, i) => runClient(i)));
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const all = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
const pct = (p) => all[Math.min(all.length - 1, Math.floor(all.length * p))].toFixed(2);
const events = results.reduce((n, r) => n + r.received, 0);
console.log(`mode=${mode} clients=${clients} ops=${all.length} in ${seconds.toFixed(2)} s: ` +
  `${Math.round(all.length / seconds)} ops/s, ${Math.round(events / seconds)} events/s received; ` +
  `ack latency ms p50=${pct(0.5)} p99=${pct(0.99)} max=${all[all.length - 1].toFixed(2)}`);
