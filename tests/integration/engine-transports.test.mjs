// Every document type over every transport (issue 5 point 9): for each engine, peers on the raw
// WebSocket, SignalR (official client, JSON and MessagePack hub protocols) and gRPC (official
// client) join one document and send ops concurrently against the same base revision. Each
// revision must be assigned exactly once, every peer must receive every other peer's op exactly
// once and in revision order, the broadcast payload of a revision must be the same bytes on every
// transport, and fresh joiners on each transport must see the same snapshot — which must contain
// every op.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/harness.mjs';
import { MT, WsClient, opB64, unb64, uniqueDoc } from './lib/client.mjs';
import { GrpcConnect, closeAllClients, toEnvelope } from './lib/grpc-client.mjs';
import { bytesText, opPayload, startHub, until } from './signalr-client.mjs';

// One op per peer index, valid on an empty document and independent of the others' ops.
const OPS = {
  text: (i) => ({ components: [{ type: 'insert', text: `t${i}` }] }),
  'rich-text': (i) => ({ components: [{ $type: 'insert', text: `r${i}`, attributes: i % 2 ? { bold: true } : null }] }),
  json: (i) => ({ operations: [{ $type: 'set', path: `k${i}`, value: i, timestamp: 100 + i, peerId: `p${i}` }] }),
  form: (i) => ({ operations: [{ $type: 'set', fieldName: `f${i}`, value: `v${i}`, timestamp: 1 + i, peerId: `p${i}` }] }),
  table: (i) => ({ operations: [{ $type: 'ins_row', rowId: `R${i}`, position: 'bcdefg'[i], timestamp: 1 + i, peerId: `p${i}` }] }),
  tree: (i) => ({ operations: [{ $type: 'move', nodeId: `N${i}`, newParentId: '__root__', newPosition: 'bcdefg'[i],
    newPayload: null, timestamp: 100 + i, peerId: `p${i}` }] }),
};
// What the final snapshot must contain for peer i's op.
const MARK = {
  text: (i) => `t${i}`, 'rich-text': (i) => `r${i}`, json: (i) => `"k${i}"`, form: (i) => `"f${i}"`,
  table: (i) => `"R${i}"`, tree: (i) => `"N${i}"`,
};

/** A peer with the same small interface on every transport. */
async function rawPeer(server, doc, type) {
  const c = await WsClient.connect(server, { label: `raw-${type}` });
  const events = [];
  c.ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    if (m.messageType === MT.ReceiveOpEvent) events.push({ revision: m.receiveOpEvent.newRevision, payload: unb64(m.receiveOpEvent.payload) });
  });
  const j = await c.joinOk(doc, type);
  return {
    name: 'raw', events, revision: j.revision, snapshot: j.snapshotText,
    async send(op, base) {
      const r = await c.request({ messageType: MT.OpRequest, opRequest: { documentId: doc, payload: opB64(op), baseRevision: base } });
      assert.equal(r.opResponse?.success, true, `raw op: ${JSON.stringify(r)}`);
      return r.opResponse.newRevision;
    },
    close: () => c.terminate(),
  };
}

async function signalrPeer(server, doc, type, protocol) {
  const hub = await startHub(server, { transport: 'WebSockets', protocol });
  const events = [];
  hub.on('ReceiveOp', (payload, revision) => events.push({ revision: Number(revision), payload: bytesText(payload) }));
  const j = await hub.invoke('JoinDocument', doc, type, 1);
  return {
    name: `signalr-${protocol}`, events, revision: Number(j.revision), snapshot: bytesText(j.snapshot),
    async send(op, base) {
      const r = await hub.invoke('SendOp', doc, opPayload(op, protocol), base);
      assert.equal(r.success, true, `signalr op: ${JSON.stringify(r)}`);
      return Number(r.newRevision);
    },
    close: () => hub.stop(),
  };
}

async function grpcPeer(server, doc, type) {
  const g = new GrpcConnect(server, { label: `grpc-${type}` });
  const events = [];
  g.handler = (m) => {
    const e = toEnvelope(m);
    if (e.messageType === MT.ReceiveOpEvent) events.push({ revision: e.receiveOpEvent.newRevision, payload: unb64(e.receiveOpEvent.payload) });
    else g.queue.push(m);
  };
  const j = toEnvelope(await g.join('join', doc, type));
  assert.equal(j.messageType, MT.JoinResponse, JSON.stringify(j));
  return {
    name: 'grpc', events, revision: j.joinResponse.revision, snapshot: unb64(j.joinResponse.snapshot),
    async send(op, base) {
      const r = toEnvelope(await g.op(`op-${base}`, doc, op, base));
      assert.equal(r.opResponse?.success, true, `grpc op: ${JSON.stringify(r)}`);
      return r.opResponse.newRevision;
    },
    close: () => g.cancel(),
  };
}

const PEERS = [
  (s, d, t) => rawPeer(s, d, t),
  (s, d, t) => signalrPeer(s, d, t, 'json'),
  (s, d, t) => signalrPeer(s, d, t, 'messagepack'),
  (s, d, t) => grpcPeer(s, d, t),
];

describe('every engine over every transport', () => {
  let server;
  before(async () => {
    server = await startServer({ label: 'engine-transports', env: {
      OPSTREAM__ENGINES: 'text,rich-text,json,form,table,tree', OPSTREAM__TRANSPORTS: 'websockets,signalr,grpc' } });
  });
  after(async () => {
    closeAllClients();
    await server?.stop();
  });

  for (const type of Object.keys(OPS)) {
    it(`${type}: concurrent ops from raw WebSocket, SignalR JSON, SignalR MessagePack and gRPC peers`, async () => {
      const doc = uniqueDoc(`xt-${type}`);
      const peers = [];
      for (const make of PEERS) peers.push(await make(server, doc, type));
      try {
        const base = peers[0].revision;
        for (const p of peers) assert.equal(p.revision, base, `${p.name}: join revision`);
        for (const p of peers) assert.equal(p.snapshot, peers[0].snapshot, `${p.name}: join snapshot bytes`);

        // Everybody sends against the same base: the server orders (and for OT types rebases) them.
        const acks = await Promise.all(peers.map((p, i) => p.send(OPS[type](i), base)));
        const expected = peers.map((_, i) => base + 1 + i);
        assert.deepEqual([...acks].sort((a, b) => a - b), expected, `revisions assigned once each: ${acks}`);

        for (const [i, p] of peers.entries()) {
          await until(() => p.events.length >= peers.length - 1, { what: `${p.name} receiving ${peers.length - 1} ops` });
          const revisions = p.events.map((e) => e.revision);
          assert.deepEqual(revisions, expected.filter((r) => r !== acks[i]), `${p.name}: every other op once, in order`);
        }
        // The same revision carries the same normalized payload bytes on every transport.
        const byRevision = new Map();
        for (const p of peers) {
          for (const e of p.events) {
            if (!byRevision.has(e.revision)) byRevision.set(e.revision, e.payload);
            assert.equal(e.payload, byRevision.get(e.revision), `${p.name}: payload of revision ${e.revision}`);
          }
        }

        // Fresh joiners on every transport see one state that holds every op.
        const fresh = [];
        for (const make of PEERS) fresh.push(await make(server, doc, type));
        for (const f of fresh) {
          assert.equal(f.revision, base + peers.length, `${f.name}: fresh join revision`);
          assert.equal(f.snapshot, fresh[0].snapshot, `${f.name}: fresh snapshot bytes equal across transports`);
        }
        for (let i = 0; i < peers.length; i++) assert.ok(fresh[0].snapshot.includes(MARK[type](i)), `snapshot holds op ${i}: ${fresh[0].snapshot}`);
        for (const f of fresh) await f.close();
      } finally {
        for (const p of peers) await p.close();
      }
    });
  }
});
