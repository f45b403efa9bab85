// Several documents on one connection (wire-protocol.md §2.4, §2.8, §2.9, OP-16).

import { describe, it, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { SharedServer } from './lib/harness.mjs';
import { I, MT, R, UUID_RE, WsClient, assertError, textOp, unb64, uniqueDoc } from './lib/client.mjs';

describe('several documents on one connection', () => {
  let server;
  const clients = [];
  const connect = async (label) => { const c = await WsClient.connect(server, { label }); clients.push(c); return c; };
  const shared = new SharedServer({ label: 'multidoc' });
  beforeEach(async () => { server = await shared.get(); });
  after(async () => {
    for (const c of clients) c.terminate();
    await shared.finish();
  });

  it('ops are routed per document; revisions are independent; PeerDisconnected once per joined document', async () => {
    const d1 = uniqueDoc('m1');
    const d2 = uniqueDoc('m2');
    const d3 = uniqueDoc('m3');
    const A = await connect('A');
    const B = await connect('B'); // d1
    const C = await connect('C'); // d2
    const Dd = await connect('D'); // d1 and d2
    assert.equal((await A.joinOk(d1)).revision, 1);
    assert.equal((await A.joinOk(d2)).revision, 1);
    const j3 = await A.joinOk(d3);
    assert.deepEqual(j3.snapshot, { content: '' });
    await B.joinOk(d1);
    await C.joinOk(d2);
    await Dd.joinOk(d1);
    await Dd.joinOk(d2);

    assert.equal(await A.opOk(d1, textOp(I('one')), 1), 2);
    const onB = await B.next((m) => m.messageType === MT.ReceiveOpEvent, { what: 'd1 op on B' });
    assert.deepEqual(JSON.parse(unb64(onB.receiveOpEvent.payload)), textOp(I('one')));
    await C.expectNoMessage(200, (m) => m.messageType === MT.ReceiveOpEvent, 'a d1 op on a d2-only client');

    assert.equal(await A.opOk(d2, textOp(I('two')), 1), 2, 'd2 has its own revision counter');
    const onC = await C.next((m) => m.messageType === MT.ReceiveOpEvent, { what: 'd2 op on C' });
    assert.deepEqual(JSON.parse(unb64(onC.receiveOpEvent.payload)), textOp(I('two')));
    await B.expectNoMessage(200, (m) => m.messageType === MT.ReceiveOpEvent, 'a d2 op on a d1-only client');

    const dEvents = [];
    for (let i = 0; i < 2; i++) dEvents.push(await Dd.next((m) => m.messageType === MT.ReceiveOpEvent, { what: `op ${i + 1} on D` }));
    assert.deepEqual(dEvents.map((e) => JSON.parse(unb64(e.receiveOpEvent.payload))), [textOp(I('one')), textOp(I('two'))]);

    // B's op on d1 reaches A (joined to d1) exactly once
    assert.equal(await B.opOk(d1, textOp(R(3), I('!')), 2), 3);
    const onA = await A.next((m) => m.messageType === MT.ReceiveOpEvent, { what: "B's op on A" });
    assert.equal(onA.receiveOpEvent.newRevision, 3);
    await A.expectNoMessage(200, (m) => m.messageType === MT.ReceiveOpEvent, 'a duplicate ReceiveOp');

    // presence is per document
    A.awareness(d2, { on: 'd2' });
    const awC = await C.next((m) => m.messageType === MT.ReceiveAwarenessEvent, { what: 'd2 awareness on C' });
    const peerA = awC.receiveAwarenessEvent.awareness[0].peerId;
    assert.match(peerA, UUID_RE);
    await B.expectNoMessage(200, (m) => m.messageType === MT.ReceiveAwarenessEvent, 'd2 awareness on a d1-only client');

    const final1 = await (await connect('check1')).joinOk(d1);
    assert.deepEqual([final1.revision, final1.snapshot.content], [3, 'one!']);
    const final2 = await (await connect('check2')).joinOk(d2);
    assert.deepEqual([final2.revision, final2.snapshot.content], [2, 'two']);

    await A.close();
    const evB = await B.next((m) => m.messageType === MT.PeerDisconnectedEvent, { what: 'PeerDisconnected on B' });
    const evC = await C.next((m) => m.messageType === MT.PeerDisconnectedEvent, { what: 'PeerDisconnected on C' });
    assert.equal(evB.peerDisconnectedEvent.peerId, peerA, 'one peer id per connection, whatever the document');
    assert.equal(evC.peerDisconnectedEvent.peerId, peerA);
    const evD1 = await Dd.next((m) => m.messageType === MT.PeerDisconnectedEvent, { what: 'first PeerDisconnected on D' });
    const evD2 = await Dd.next((m) => m.messageType === MT.PeerDisconnectedEvent, { what: 'second PeerDisconnected on D (one per joined document)' });
    assert.equal(evD1.peerDisconnectedEvent.peerId, peerA);
    assert.equal(evD2.peerDisconnectedEvent.peerId, peerA);
    await Dd.expectNoMessage(300, (m) => m.messageType === MT.PeerDisconnectedEvent, 'a third PeerDisconnected');
    await B.expectNoMessage(0, (m) => m.messageType === MT.PeerDisconnectedEvent, 'a second PeerDisconnected on B');
  });

  it('joining the same document twice on one connection is harmless (one subscription)', async () => {
    const d = uniqueDoc('twice');
    const A = await connect('twice-A');
    const B = await connect('twice-B');
    await A.joinOk(d);
    await B.joinOk(d);
    assert.equal(await B.opOk(d, textOp(I('x')), 1), 2);
    const again = await A.joinOk(d);
    assert.equal(again.revision, 2, 'fresh result on the second join');
    assert.deepEqual(again.snapshot, { content: 'x' });
    // the ReceiveOp of rev 2 may have been delivered before the second join; drop it
    A.drain();
    assert.equal(await B.opOk(d, textOp(I('y')), 2), 3);
    const ev = await A.next((m) => m.messageType === MT.ReceiveOpEvent, { what: 'ReceiveOp after the double join' });
    assert.equal(ev.receiveOpEvent.newRevision, 3);
    await A.expectNoMessage(300, (m) => m.messageType === MT.ReceiveOpEvent, 'a duplicate ReceiveOp after a double join');
    await A.close();
    await B.next((m) => m.messageType === MT.PeerDisconnectedEvent, { what: 'PeerDisconnected' });
    await B.expectNoMessage(300, (m) => m.messageType === MT.PeerDisconnectedEvent, 'a duplicate PeerDisconnected after a double join');
  });

  it('a failed join is not remembered: no PeerDisconnected for that document (OP-16)', async () => {
    const d = uniqueDoc('failed-join');
    const B = await connect('fj-B');
    await B.joinOk(d, 'text');
    const A = await connect('fj-A');
    assertError(await A.join(d, 'spreadsheet'), 'No session engine registered for document type: spreadsheet');
    await A.close();
    await B.expectNoMessage(500, (m) => m.messageType === MT.PeerDisconnectedEvent, 'PeerDisconnected of a peer whose join failed');
  });

  it('abrupt disconnect (TCP reset, no close frame) also produces PeerDisconnected for every joined document', async () => {
    const d1 = uniqueDoc('abrupt1');
    const d2 = uniqueDoc('abrupt2');
    const A = await connect('abrupt-A');
    const W = await connect('abrupt-W');
    await A.joinOk(d1);
    await A.joinOk(d2);
    await W.joinOk(d1);
    await W.joinOk(d2);
    A.awareness(d1, { me: 'A' });
    const aw = await W.next((m) => m.messageType === MT.ReceiveAwarenessEvent, { what: 'awareness of A' });
    const peerA = aw.receiveAwarenessEvent.awareness[0].peerId;
    A.ws._socket.destroy();
    const e1 = await W.next((m) => m.messageType === MT.PeerDisconnectedEvent, { what: 'first PeerDisconnected after a reset' });
    const e2 = await W.next((m) => m.messageType === MT.PeerDisconnectedEvent, { what: 'second PeerDisconnected after a reset' });
    assert.deepEqual([e1.peerDisconnectedEvent.peerId, e2.peerDisconnectedEvent.peerId], [peerA, peerA]);
    // the departed peer's presence is gone from join results
    const X = await connect('abrupt-X');
    const j = await X.joinOk(d1);
    assert.deepEqual(j.awareness, [], 'presence removed on disconnect');
  });
});
