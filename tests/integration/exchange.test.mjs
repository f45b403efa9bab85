// The conformance exchange of wire-protocol.md §8.2 on /collab-ws, step by step,
// with the resolutions of OP-3 and OP-14.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/harness.mjs';
import {
  MT, TS_RE, UUID_RE, WsClient, assertError, assertNullish, assertOpRejected, unb64,
} from './lib/client.mjs';

const EMPTY_TEXT_B64 = 'eyJjb250ZW50IjoiIn0=';
const HELLO_OP_B64 = 'eyJjb21wb25lbnRzIjpbeyJ0eXBlIjoiaW5zZXJ0IiwidGV4dCI6IkhlbGxvIn1dfQ==';
const HELLO_STATE_B64 = 'eyJjb250ZW50IjoiSGVsbG8ifQ==';

describe('wire-protocol §8.2 exchange on /collab-ws', () => {
  let server;
  let A;
  let B;
  let C;
  let alicePeerId;

  before(async () => {
    server = await startServer({ label: 'exchange' });
    A = await WsClient.connect(server, { label: 'A' });
    B = await WsClient.connect(server, { label: 'B' });
  });
  after(async () => {
    for (const c of [A, B, C]) if (c) c.terminate();
    if (!server) return;
    server.assertNotCrashed();
    await server.stop();
  });

  it('1. A joins doc-1: messageType 1, revision 1, snapshot {"content":""}, awareness []', async () => {
    const res = await A.request({
      correlationId: '0b7c8f0e-3a52-4d0e-9a57-2f1f6b1c9d01',
      messageType: 0,
      joinRequest: { documentId: 'doc-1', documentType: 'text', clientProtoVersion: 1 },
    });
    assert.equal(res.correlationId, '0b7c8f0e-3a52-4d0e-9a57-2f1f6b1c9d01');
    assert.equal(res.messageType, MT.JoinResponse, JSON.stringify(res));
    assert.equal(res.joinResponse.revision, 1);
    assert.equal(res.joinResponse.snapshot, EMPTY_TEXT_B64, `snapshot decodes to ${unb64(res.joinResponse.snapshot || '')}`);
    assert.deepEqual(res.joinResponse.awareness, []);
    assertNullish(res.errorMessage, 'errorMessage of a join response');
  });

  it('2. B joins doc-1 and receives revision 1 and the same snapshot', async () => {
    const res = await B.request({
      correlationId: '7a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      messageType: 0,
      joinRequest: { documentId: 'doc-1', documentType: 'text', clientProtoVersion: 1 },
    });
    assert.equal(res.messageType, MT.JoinResponse, JSON.stringify(res));
    assert.equal(res.correlationId, '7a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d');
    assert.equal(res.joinResponse.revision, 1);
    assert.equal(res.joinResponse.snapshot, EMPTY_TEXT_B64);
    assert.deepEqual(res.joinResponse.awareness, []);
  });

  it('3. A sends an op: A gets the ack (3, success, newRevision 2), B gets ReceiveOp (5), no echo to A', async () => {
    const res = await A.request({
      correlationId: '5d2e9b44-0c1a-4f63-8e0b-6b7a1c2d3e4f',
      messageType: 2,
      opRequest: { documentId: 'doc-1', payload: HELLO_OP_B64, baseRevision: 1 },
    });
    assert.equal(res.messageType, MT.OpResponse, JSON.stringify(res));
    assert.equal(res.correlationId, '5d2e9b44-0c1a-4f63-8e0b-6b7a1c2d3e4f');
    assert.equal(res.opResponse.success, true);
    assert.equal(res.opResponse.newRevision, 2);
    assertNullish(res.opResponse.errorMessage, 'opResponse.errorMessage on success');

    const ev = await B.next((m) => m.messageType === MT.ReceiveOpEvent, { what: 'ReceiveOp on B' });
    assertNullish(ev.correlationId, 'correlationId of an event');
    assert.equal(ev.receiveOpEvent.newRevision, 2);
    assert.deepEqual(JSON.parse(unb64(ev.receiveOpEvent.payload)), { components: [{ type: 'insert', text: 'Hello' }] });
    assert.equal(ev.receiveOpEvent.payload, HELLO_OP_B64, `normalized payload bytes: ${unb64(ev.receiveOpEvent.payload)}`);

    await A.expectNoMessage(300, (m) => m.messageType === MT.ReceiveOpEvent, 'echo of its own op');
  });

  it('4. A publishes presence: B gets messageType 6 with one state; A gets nothing', async () => {
    const before = Date.now();
    A.send({ messageType: 4, awarenessRequest: { documentId: 'doc-1', dataJson: '{"name":"Alice","cursor":5}' } });
    const ev = await B.next((m) => m.messageType === MT.ReceiveAwarenessEvent, { what: 'awareness event on B' });
    assertNullish(ev.correlationId, 'correlationId of an awareness event');
    const states = ev.receiveAwarenessEvent.awareness;
    assert.ok(Array.isArray(states), `awareness must be an array: ${JSON.stringify(ev)}`);
    assert.equal(states.length, 1, 'a broadcast carries exactly one state');
    const st = states[0];
    assert.match(st.peerId, UUID_RE, 'peer id is a lowercase hyphenated UUID');
    assert.deepEqual(st.data, { name: 'Alice', cursor: 5 }, 'data is the parsed JSON value, not text');
    assert.match(st.lastUpdated, TS_RE, `lastUpdated format: ${st.lastUpdated}`);
    const t = Date.parse(st.lastUpdated);
    assert.ok(Math.abs(t - before) < 60000, `lastUpdated ${st.lastUpdated} should be the server's current UTC time`);
    alicePeerId = st.peerId;
    await A.expectNoMessage(300, () => true, 'reply or echo to an awareness update');
  });

  it('B joins again on the same connection: revision 2, snapshot with A\'s op, A\'s awareness state', async () => {
    const res = await B.join('doc-1');
    assert.equal(res.messageType, MT.JoinResponse, JSON.stringify(res));
    assert.equal(res.joinResponse.revision, 2);
    assert.deepEqual(JSON.parse(unb64(res.joinResponse.snapshot)), { content: 'Hello' });
    assert.equal(res.joinResponse.snapshot, HELLO_STATE_B64);
    const aw = res.joinResponse.awareness;
    assert.equal(aw.length, 1, `awareness in the join result: ${JSON.stringify(aw)}`);
    assert.equal(aw[0].peerId, alicePeerId);
    assert.deepEqual(aw[0].data, { name: 'Alice', cursor: 5 });
    assert.match(aw[0].lastUpdated, TS_RE);
  });

  it('a third client C joining sees revision 2, "Hello" and A\'s presence', async () => {
    C = await WsClient.connect(server, { label: 'C' });
    const j = await C.joinOk('doc-1');
    assert.equal(j.revision, 2);
    assert.deepEqual(j.snapshot, { content: 'Hello' });
    assert.deepEqual(j.awareness.map((s) => s.peerId), [alicePeerId]);
  });

  it('6a. join of an unknown document type → 8 "No session engine registered for document type: spreadsheet"', async () => {
    const res = await B.request({
      correlationId: 'e41f0a3c-9d7b-4b2e-8c51-0f6a2d9e7b33',
      messageType: 0,
      joinRequest: { documentId: 'doc-2', documentType: 'spreadsheet', clientProtoVersion: 1 },
    });
    assert.equal(res.correlationId, 'e41f0a3c-9d7b-4b2e-8c51-0f6a2d9e7b33');
    assertError(res, 'No session engine registered for document type: spreadsheet');
  });

  it('6b. an op with an empty payload → 8 "InvalidMessage: Operation payload is empty."', async () => {
    const res = await B.op('doc-1', { b64: '' }, 2);
    assertError(res, 'InvalidMessage: Operation payload is empty.');
  });

  it('6c. an op based on revision 0 → 3 success:false, newRevision 2, "compacted log past baseRevision"', async () => {
    const res = await B.op('doc-1', { components: [{ type: 'insert', text: 'x' }] }, 0);
    assertOpRejected(res, {
      newRevision: 2,
      errorMessage: 'Cannot reconstruct transformation path: compacted log past baseRevision.',
    });
  });

  it('6d. an op based on a revision ahead of the server → 3 success:false "Base revision 7 is ahead of current revision 2." (OP-14)', async () => {
    const res = await B.op('doc-1', { components: [{ type: 'insert', text: 'x' }] }, 7);
    assertOpRejected(res, { newRevision: 2, errorMessage: 'Base revision 7 is ahead of current revision 2.' });
  });

  it('rejected ops changed nothing: no ReceiveOp reached A or C, a new joiner still sees revision 2', async () => {
    await A.expectNoMessage(200, (m) => m.messageType === MT.ReceiveOpEvent, 'ReceiveOp for a rejected op');
    await C.expectNoMessage(0, (m) => m.messageType === MT.ReceiveOpEvent, 'ReceiveOp for a rejected op');
    const D = await WsClient.connect(server, { label: 'D' });
    const j = await D.joinOk('doc-1');
    assert.equal(j.revision, 2);
    assert.deepEqual(j.snapshot, { content: 'Hello' });
    await D.close();
    // D's departure is announced to the others; consume it so later steps see only A's
    await B.next((m) => m.messageType === MT.PeerDisconnectedEvent, { what: "D's PeerDisconnected on B" });
    await C.next((m) => m.messageType === MT.PeerDisconnectedEvent, { what: "D's PeerDisconnected on C" });
  });

  it('5. A closes (1000): the server completes the handshake with 1000; B and C get 7 with A\'s peer id', async () => {
    const info = await A.close(1000);
    assert.equal(info.code, 1000);
    // The reference's reason text is "Closing"; this server echoes the client's close frame without
    // a reason (docs/behaviour.md). No client reads the reason.
    for (const c of [B, C]) {
      const ev = await c.next((m) => m.messageType === MT.PeerDisconnectedEvent, { what: `PeerDisconnected on ${c.label}` });
      assertNullish(ev.correlationId, 'correlationId of PeerDisconnected');
      assert.equal(ev.peerDisconnectedEvent.peerId, alicePeerId);
    }
    // B joined doc-1 twice on one connection: still one subscription, so one event only (§2.4)
    await B.expectNoMessage(300, (m) => m.messageType === MT.PeerDisconnectedEvent, 'a second PeerDisconnected for A');
  });

  it('every server frame was a Text frame carrying valid JSON with an integer messageType', () => {
    for (const c of [A, B, C]) {
      assert.equal(c.binaryFrames, 0, `${c.label} received binary frames`);
      assert.deepEqual(c.unparsable, [], `${c.label} received non-JSON frames`);
      for (const m of c.received) assert.ok(Number.isInteger(m.messageType), `${c.label}: messageType must be an integer: ${JSON.stringify(m)}`);
    }
  });
});
