// Input rules of /collab-ws: wire-protocol.md §2.3–§2.7, §4.3, §4.5 with the resolutions of
// OP-3 (always answer), OP-13 (membership), OP-15 (type mismatch), OP-19 (lenient, answered
// input handling, 2 MiB limit), OP-20 (identical awareness), OP-21 (silent awareness drops).

import { describe, it, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SharedServer, makeTempDir, sleep, startServer, within } from './lib/harness.mjs';
import {
  D, I, MT, R, TS_RE, WsClient, assertError, assertInvalidMessage, assertNullish, assertOpRejected,
  b64, opB64, short, textOp, unb64, uniqueDoc,
} from './lib/client.mjs';

let server;
const clients = [];

async function connect(label) {
  const c = await WsClient.connect(server, { label });
  clients.push(c);
  return c;
}

/** Two clients joined to a fresh text document. */
async function pair(prefix = 'doc', type = 'text') {
  const doc = uniqueDoc(prefix);
  const A = await connect(`${prefix}-A`);
  const B = await connect(`${prefix}-B`);
  const ja = await A.joinOk(doc, type);
  await B.joinOk(doc, type);
  return { doc, A, B, rev: ja.revision };
}

/** Assert that the socket still works: a join of a fresh document succeeds. */
async function assertStillUsable(c) {
  assert.ok(c.isOpen, `[${c.label}] socket should stay open (close: ${JSON.stringify(c.closeInfo)})`);
  const j = await c.joinOk(uniqueDoc('alive'));
  assert.equal(j.revision, 1);
}

/** 100-ns ticks since the epoch of a server timestamp (keeps all 7 fractional digits). */
function ticks(ts) {
  assert.match(ts, TS_RE);
  const m = ts.match(/^(.*?:\d\d)(?:\.(\d+))?\+00:00$/);
  const whole = BigInt(Date.parse(`${m[1]}+00:00`)) * 10000n;
  return whole + BigInt((m[2] || '').padEnd(7, '0'));
}

const joinEnv = (documentId, extra = {}) => ({
  messageType: 0, joinRequest: { documentId, documentType: 'text', clientProtoVersion: 1 }, ...extra,
});

const shared = new SharedServer({ label: 'input-rules' });
beforeEach(async () => { server = await shared.get(); });
after(async () => {
  for (const c of clients) c.terminate();
  await shared.finish();
});

describe('OP-3 / OP-13: answers on sockets that never joined; membership is required', () => {
  it('a socket whose first joins fail receives every error (OP-3)', async () => {
    const X = await connect('never-joined');
    assertError(await X.join(uniqueDoc(), 'text', { clientProtoVersion: 2 }), 'UnsupportedProtocol: Required proto=1');
    assertError(await X.join(uniqueDoc(), 'spreadsheet'), 'No session engine registered for document type: spreadsheet');
    assertError(await X.join('', 'text'), 'InvalidMessage: Missing document id.');
  });

  it('an op for a document not joined on this connection → 8 "InvalidMessage: Document not joined on this connection." and is not applied (OP-13)', async () => {
    const { doc, A, rev } = await pair('member');
    const X = await connect('outsider');
    const res = await X.op(doc, textOp(I('intruder')), rev);
    assertError(res, 'InvalidMessage: Document not joined on this connection.');
    // also from a socket that joined another document
    await X.joinOk(uniqueDoc('other'));
    assertError(await X.op(doc, textOp(I('intruder')), rev), 'InvalidMessage: Document not joined on this connection.');
    await A.expectNoMessage(300, (m) => m.messageType === MT.ReceiveOpEvent, 'ReceiveOp from a non-member');
    const Y = await connect('checker');
    const j = await Y.joinOk(doc);
    assert.equal(j.revision, rev, 'revision unchanged');
    assert.deepEqual(j.snapshot, { content: '' });
  });

  it('awareness for a document not joined on this connection is dropped silently (OP-13, OP-21)', async () => {
    const { doc, A, B } = await pair('aw-member');
    const X = await connect('aw-outsider');
    X.awareness(doc, { name: 'Mallory' });
    await X.joinOk(uniqueDoc('aw-other'));
    X.awareness(doc, { name: 'Mallory2' });
    await sleep(300);
    await A.expectNoMessage(0, (m) => m.messageType === MT.ReceiveAwarenessEvent, 'awareness from a non-member');
    await B.expectNoMessage(0, (m) => m.messageType === MT.ReceiveAwarenessEvent, 'awareness from a non-member');
    await X.expectNoMessage(0, (m) => m.messageType !== MT.JoinResponse, 'reply to a dropped awareness update');
    const C = await connect('aw-checker');
    const j = await C.joinOk(doc);
    assert.deepEqual(j.awareness, [], 'no state was stored for the non-member');
  });
});

describe('malformed input is answered and the socket stays open (OP-19)', () => {
  it('text that is not JSON → 8 "InvalidMessage: …"', async () => {
    const X = await connect('not-json');
    X.sendRaw('{this is not json');
    const err = await X.next(() => true, { what: 'an ErrorResponse for unparsable text' });
    assertInvalidMessage(err, 'unparsable text:');
    await assertStillUsable(X);
  });

  it('valid JSON that is not an object (array, number, string) → 8 "InvalidMessage: …"', async () => {
    const X = await connect('not-object');
    for (const raw of ['[1,2,3]', '42', '"hello"']) {
      X.sendRaw(raw);
      const err = await X.next(() => true, { what: `an ErrorResponse for ${raw}` });
      assertInvalidMessage(err, `${raw}:`);
      assertNullish(err.correlationId, 'correlationId (nothing to extract)');
    }
    await assertStillUsable(X);
  });

  it('messageType given as an unknown string → 8 "InvalidMessage: …" with the request\'s correlationId', async () => {
    const X = await connect('string-type');
    X.send({ correlationId: 'st-1', messageType: 'Bogus', joinRequest: { documentId: uniqueDoc(), documentType: 'text', clientProtoVersion: 1 } });
    const err = await X.next(() => true, { what: 'an ErrorResponse for messageType "Bogus"' });
    assertInvalidMessage(err, 'messageType "Bogus":');
    assert.equal(err.correlationId, 'st-1');
    await assertStillUsable(X);
  });

  it('invalid base64 in an op payload → 8 "InvalidMessage: …" with the correlationId; nothing applied', async () => {
    const { doc, A, B, rev } = await pair('bad-b64');
    A.send({ correlationId: 'b64-1', messageType: 2, opRequest: { documentId: doc, payload: '!!!not*base64???', baseRevision: rev } });
    const err = await A.next(() => true, { what: 'an ErrorResponse for invalid base64' });
    assertInvalidMessage(err, 'invalid base64:');
    assert.equal(err.correlationId, 'b64-1');
    await B.expectNoMessage(200, (m) => m.messageType === MT.ReceiveOpEvent, 'ReceiveOp after invalid base64');
    assert.equal(await A.opOk(doc, textOp(I('ok')), rev), rev + 1, 'the socket keeps working');
  });

  it('wrong JSON types for fields (baseRevision as string, dataJson as object, joinRequest as array) → 8 "InvalidMessage: …"', async () => {
    const { doc, A, B, rev } = await pair('wrong-types');
    const cases = [
      ['baseRevision string', { correlationId: 'wt-1', messageType: 2, opRequest: { documentId: doc, payload: opB64(textOp(I('x'))), baseRevision: String(rev) } }],
      ['dataJson object', { correlationId: 'wt-2', messageType: 4, awarenessRequest: { documentId: doc, dataJson: { name: 'x' } } }],
      ['joinRequest array', { correlationId: 'wt-3', messageType: 0, joinRequest: [doc, 'text', 1] }],
      ['documentId number', { correlationId: 'wt-4', messageType: 0, joinRequest: { documentId: 12, documentType: 'text', clientProtoVersion: 1 } }],
    ];
    for (const [what, env] of cases) {
      A.send(env);
      const err = await A.next(() => true, { what: `an ErrorResponse for ${what}` });
      assertInvalidMessage(err, `${what}:`);
      assert.equal(err.correlationId, env.correlationId, `${what}: correlationId`);
    }
    await B.expectNoMessage(200, (m) => m.messageType === MT.ReceiveOpEvent || m.messageType === MT.ReceiveAwarenessEvent,
      'events caused by rejected messages');
    assert.equal(await A.opOk(doc, textOp(I('ok')), rev), rev + 1, 'the socket keeps working');
  });

  it('JSON null, unknown integer messageTypes and known types with a null/absent payload are ignored', async () => {
    const X = await connect('ignored');
    const doc = uniqueDoc('ignored');
    X.sendRaw('null');
    X.send({ messageType: 42 });
    X.send({ correlationId: 'ig-99', messageType: 99, joinRequest: { documentId: doc, documentType: 'text', clientProtoVersion: 1 } });
    X.send({ correlationId: 'ig-0', messageType: 0, joinRequest: null });
    X.send({ correlationId: 'ig-0b', messageType: 0 });
    X.send({ correlationId: 'ig-2', messageType: 2, opRequest: null });
    X.send({ correlationId: 'ig-4', messageType: 4, awarenessRequest: null });
    X.send({ correlationId: 'ig-4b', messageType: 4 });
    // messages on one connection are processed in order: the join answer must be the first message
    const res = await X.request(joinEnv(doc, { correlationId: 'ig-after' }));
    assert.equal(res.messageType, MT.JoinResponse);
    assert.equal(X.received[0].correlationId, 'ig-after',
      `the first message received should answer the join, got ${short(X.received, 1000)}`);
    assert.equal(res.joinResponse.revision, 1, 'the document is new: nothing before touched it');
    await X.expectNoMessage(300, () => true, 'answers to ignored messages');
  });

  it('a missing messageType counts as 0 (JoinRequest); unknown properties are ignored', async () => {
    const X = await connect('no-type');
    const doc = uniqueDoc('no-type');
    const res = await X.request({ correlationId: 'nt-1', joinRequest: { documentId: doc, documentType: 'text', clientProtoVersion: 1, colour: 'red' }, extra: { a: 1 } });
    assert.equal(res.messageType, MT.JoinResponse, short(res));
    assert.equal(res.joinResponse.revision, 1);
  });

  it('PascalCase property names are accepted (case-insensitive matching)', async () => {
    const doc = uniqueDoc('pascal');
    const A = await connect('pascal-A');
    const B = await connect('pascal-B');
    await B.joinOk(doc);
    A.send({ CorrelationId: 'pc-1', MessageType: 0, JoinRequest: { DocumentId: doc, DocumentType: 'text', ClientProtoVersion: 1 } });
    const j = await A.next((m) => m.correlationId === 'pc-1', { what: 'answer to the PascalCase join' });
    assert.equal(j.messageType, MT.JoinResponse, short(j));
    assert.equal(j.joinResponse.revision, 1);
    A.send({ CORRELATIONID: 'pc-2', messagetype: 2, OpRequest: { DocumentId: doc, Payload: opB64(textOp(I('Hi'))), BaseRevision: 1 } });
    const ack = await A.next((m) => m.correlationId === 'pc-2', { what: 'answer to the PascalCase op' });
    assert.equal(ack.messageType, MT.OpResponse, short(ack));
    assert.equal(ack.opResponse.success, true);
    assert.equal(ack.opResponse.newRevision, 2);
    const ev = await B.next((m) => m.messageType === MT.ReceiveOpEvent, { what: 'ReceiveOp of the PascalCase op' });
    assert.equal(ev.receiveOpEvent.newRevision, 2);
    A.send({ MessageType: 4, AwarenessRequest: { DocumentId: doc, DataJson: '{"n":1}' } });
    const aw = await B.next((m) => m.messageType === MT.ReceiveAwarenessEvent, { what: 'awareness of the PascalCase request' });
    assert.deepEqual(aw.receiveAwarenessEvent.awareness[0].data, { n: 1 });
  });

  it('messageType given as its PascalCase name ("JoinRequest", "OpRequest", "AwarenessRequest") is accepted', async () => {
    const doc = uniqueDoc('names');
    const A = await connect('names-A');
    const B = await connect('names-B');
    await B.joinOk(doc);
    const j = await A.request({ messageType: 'JoinRequest', joinRequest: { documentId: doc, documentType: 'text', clientProtoVersion: 1 } });
    assert.equal(j.messageType, MT.JoinResponse, short(j));
    const ack = await A.request({ messageType: 'OpRequest', opRequest: { documentId: doc, payload: opB64(textOp(I('x'))), baseRevision: 1 } });
    assert.equal(ack.messageType, MT.OpResponse, short(ack));
    assert.equal(ack.opResponse.newRevision, 2);
    A.send({ messageType: 'AwarenessRequest', awarenessRequest: { documentId: doc, dataJson: '"here"' } });
    const aw = await B.next((m) => m.messageType === MT.ReceiveAwarenessEvent, { what: 'awareness sent with a named messageType' });
    assert.equal(aw.receiveAwarenessEvent.awareness[0].data, 'here');
    assert.equal(typeof aw.messageType, 'number', 'the server always writes integer messageTypes');
  });

  it('a Binary frame carrying a JSON envelope is accepted; answers are Text frames', async () => {
    const X = await connect('binary');
    const doc = uniqueDoc('binary');
    X.sendRaw(Buffer.from(JSON.stringify(joinEnv(doc, { correlationId: 'bin-1' })), 'utf8'), { binary: true });
    const j = await X.next((m) => m.correlationId === 'bin-1', { what: 'answer to a join sent as a Binary frame' });
    assert.equal(j.messageType, MT.JoinResponse, short(j));
    X.sendRaw(Buffer.from(JSON.stringify({ correlationId: 'bin-2', messageType: 2, opRequest: { documentId: doc, payload: opB64(textOp(I('b'))), baseRevision: 1 } })), { binary: true });
    const ack = await X.next((m) => m.correlationId === 'bin-2', { what: 'answer to an op sent as a Binary frame' });
    assert.equal(ack.opResponse && ack.opResponse.newRevision, 2, short(ack));
    assert.equal(X.binaryFrames, 0, 'server frames must be Text frames');
  });

  it('a message larger than 2 MiB closes the socket with 1009; others are unaffected', async () => {
    const { doc, A, B, rev } = await pair('too-big');
    const huge = 'A'.repeat(3 * 1024 * 1024);
    A.send({ correlationId: 'big-1', messageType: 2, opRequest: { documentId: doc, payload: huge, baseRevision: rev } });
    const info = await within(A.closed, 5000);
    assert.ok(info, `socket not closed within 5 s after a 3 MiB message; received: ${short(A.received)}`);
    assert.equal(info.code, 1009, `close code: ${JSON.stringify(info)}; received before close: ${short(A.received)}`);
    const ev = await B.next((m) => m.messageType === MT.PeerDisconnectedEvent, { what: 'PeerDisconnected of the closed socket' });
    assert.ok(ev.peerDisconnectedEvent.peerId);
    assert.equal(await B.opOk(doc, textOp(I('still here')), rev), rev + 1);
  });
});

describe('join validation (§2.1, §2.3, OP-15)', () => {
  let X;
  beforeEach(async () => {
    server = await shared.get();
    if (!X || !X.isOpen) X = await connect('join-validation');
  });

  it('protocol version ≠ 1 or missing → "UnsupportedProtocol: Required proto=1"', async () => {
    for (const v of [0, 2, -1, 100]) {
      assertError(await X.join(uniqueDoc(), 'text', { clientProtoVersion: v }), 'UnsupportedProtocol: Required proto=1', `proto ${v}:`);
    }
    const res = await X.request({ messageType: 0, joinRequest: { documentId: uniqueDoc(), documentType: 'text' } });
    assertError(res, 'UnsupportedProtocol: Required proto=1', 'missing clientProtoVersion:');
  });

  it('the protocol check runs before validation', async () => {
    assertError(await X.join('', '', { clientProtoVersion: 3 }), 'UnsupportedProtocol: Required proto=1');
  });

  it('blank or missing document id → "InvalidMessage: Missing document id."', async () => {
    for (const id of ['', '   ', '\t']) {
      assertError(await X.join(id, 'text'), 'InvalidMessage: Missing document id.', `id ${JSON.stringify(id)}:`);
    }
    assertError(await X.request({ messageType: 0, joinRequest: { documentType: 'text', clientProtoVersion: 1 } }),
      'InvalidMessage: Missing document id.', 'absent id:');
    assertError(await X.request({ messageType: 0, joinRequest: { documentId: null, documentType: 'text', clientProtoVersion: 1 } }),
      'InvalidMessage: Missing document id.', 'null id:');
  });

  it('document id longer than 256 UTF-16 units → "InvalidMessage: Document id exceeds 256 characters."; 256 is accepted', async () => {
    assertError(await X.join('d'.repeat(257), 'text'), 'InvalidMessage: Document id exceeds 256 characters.');
    const ok = await X.join(`${uniqueDoc('x')}-`.padEnd(256, 'e'), 'text');
    assert.equal(ok.messageType, MT.JoinResponse, `256 characters must be accepted: ${short(ok)}`);
  });

  it('document id length counts UTF-16 code units (non-BMP characters count 2)', async () => {
    // 129 emoji = 258 UTF-16 units (129 code points)
    assertError(await X.join('😀'.repeat(129), 'text'), 'InvalidMessage: Document id exceeds 256 characters.');
    const ok = await X.join('😀'.repeat(128), 'text');
    assert.equal(ok.messageType, MT.JoinResponse, `128 emoji = 256 units must be accepted: ${short(ok)}`);
  });

  it('control characters in the document id → "InvalidMessage: Document id contains control characters."', async () => {
    for (const ch of ['\u0000', '\u0001', '\n', '\u001f', '\u007f', '\u0085', '\u009f']) {
      assertError(await X.join(`doc${ch}x`, 'text'), 'InvalidMessage: Document id contains control characters.',
        `U+${ch.charCodeAt(0).toString(16).padStart(4, '0')}:`);
    }
  });

  it('blank or missing document type → "InvalidMessage: Join requires a document type."', async () => {
    for (const t of ['', '  ']) {
      assertError(await X.join(uniqueDoc(), t), 'InvalidMessage: Join requires a document type.', `type ${JSON.stringify(t)}:`);
    }
    assertError(await X.request({ messageType: 0, joinRequest: { documentId: uniqueDoc(), clientProtoVersion: 1 } }),
      'InvalidMessage: Join requires a document type.', 'absent type:');
  });

  it('document type longer than 128 → "InvalidMessage: Document type exceeds 128 characters."; 128 passes validation', async () => {
    assertError(await X.join(uniqueDoc(), 't'.repeat(129)), 'InvalidMessage: Document type exceeds 128 characters.');
    assertError(await X.join(uniqueDoc(), 't'.repeat(128)), `No session engine registered for document type: ${'t'.repeat(128)}`);
  });

  it('document id validation runs before the type checks', async () => {
    assertError(await X.join('', ''), 'InvalidMessage: Missing document id.');
  });

  it('document types are matched case-insensitively ("TEXT")', async () => {
    const t = await X.joinOk(uniqueDoc('upper'), 'TEXT');
    assert.equal(t.revision, 1);
    assert.equal(t.snapshotText, '{"content":""}');
  });

  it('a type that is not registered (tree, not in OPSTREAM__ENGINES=text,json) is refused with the reference text', async () => {
    assertError(await X.join(uniqueDoc('tree'), 'Tree'), 'No session engine registered for document type: Tree');
  });

  it('a stored document written by another engine is not reopened with another type (OP-15)', async () => {
    // A database written by a node whose document was a json document: its op log says JsonOpBatch.
    const dir = makeTempDir('opstream-it-mismatch-');
    const file = path.join(dir, 'mismatch.db');
    const url = `Data Source=${file}`;
    const first = await startServer({ label: 'mismatch-seed', env: { OPSTREAM__STORAGE__PROVIDER: 'sqlite', OPSTREAM__STORAGE__CONNECTIONSTRING: url } });
    await first.stop();
    execFileSync('sqlite3', [file, `INSERT INTO "DocumentOps" VALUES ('json-doc', 2, 'peer', '2026-01-01 00:00:00+00:00', X'7B226F7065726174696F6E73223A5B5D7D', 'JsonOpBatch');`]);
    const server = await startServer({ label: 'mismatch', env: { OPSTREAM__STORAGE__PROVIDER: 'sqlite', OPSTREAM__STORAGE__CONNECTIONSTRING: url } });
    try {
      const C = await WsClient.connect(server, { label: 'mismatch-C' });
      // The stored ops' engine type (JsonOpBatch) is reported as its document type when that engine
      // is registered (the harness registers text,json), else as the stored type name.
      assertError(await C.join('json-doc', 'text'), "Document type mismatch: document 'json-doc' is 'json', not 'text'.");
      const ok = await C.join(uniqueDoc('fine'), 'Text');
      assert.equal(ok.messageType, MT.JoinResponse, short(ok));
      await C.close();
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('op validation (§2.3, §2.5)', () => {
  it('payload larger than 1048576 bytes → "InvalidMessage: Operation payload exceeds 1048576 bytes."; exactly 1048576 is accepted', async () => {
    const { doc, A, B, rev } = await pair('payload-size');
    const prefix = '{"components":[{"type":"insert","text":"';
    const suffix = '"}]}';
    const exact = prefix + 'p'.repeat(1048576 - prefix.length - suffix.length) + suffix;
    assert.equal(Buffer.byteLength(exact), 1048576);
    assertError(await A.op(doc, { b64: b64(`${exact} `) }, rev), 'InvalidMessage: Operation payload exceeds 1048576 bytes.');
    const res = await A.op(doc, { b64: b64(exact) }, rev, {});
    assert.equal(res.messageType, MT.OpResponse, short(res));
    assert.equal(res.opResponse.success, true, short(res));
    assert.equal(res.opResponse.newRevision, rev + 1);
    const ev = await B.next((m) => m.messageType === MT.ReceiveOpEvent, { what: 'ReceiveOp of the 1 MiB op', timeoutMs: 10000 });
    assert.equal(JSON.parse(unb64(ev.receiveOpEvent.payload)).components[0].text.length, 1048576 - prefix.length - suffix.length);
  });

  it('negative base revision → "InvalidMessage: Base revision must be non-negative."', async () => {
    const { doc, A } = await pair('neg-base');
    assertError(await A.op(doc, textOp(I('x')), -1), 'InvalidMessage: Base revision must be non-negative.');
  });

  it('document id checks apply to ops too', async () => {
    const { A } = await pair('op-id');
    assertError(await A.op('', textOp(I('x')), 1), 'InvalidMessage: Missing document id.');
    assertError(await A.op('x'.repeat(257), textOp(I('x')), 1), 'InvalidMessage: Document id exceeds 256 characters.');
    assertError(await A.op('a\u0002b', textOp(I('x')), 1), 'InvalidMessage: Document id contains control characters.');
  });
});

describe('engine rejections and the op pipeline (§2.5, engines.md §3.2, §4)', () => {
  it('engine-invalid ops → 3 success:false with a message, revision unchanged, other clients unaffected', async () => {
    const { doc, A, B } = await pair('invalid-ops');
    const rev = await A.opOk(doc, textOp(I('abc')), 1);
    await B.next((m) => m.messageType === MT.ReceiveOpEvent, { what: 'initial ReceiveOp' });
    const invalid = [
      ['negative retain', '{"components":[{"type":"retain","count":-1}]}'],
      ['negative delete (D3)', '{"components":[{"type":"retain","count":2},{"type":"delete","count":-1}]}'],
      ['unknown component type', '{"components":[{"type":"bogus","count":1}]}'],
      ['missing discriminator', '{"components":[{"count":1}]}'],
      ['discriminator name is case-sensitive', '{"components":[{"Type":"insert","text":"x"}]}'],
      ['insert without text (D4)', '{"components":[{"type":"insert"}]}'],
      ['components absent', '{}'],
      ['components null', '{"components":null}'],
      ['null component', '{"components":[null]}'],
      ['non-integer count', '{"components":[{"type":"retain","count":1.5}]}'],
      ['count as string', '{"components":[{"type":"retain","count":"1"}]}'],
      ['payload JSON null', 'null'],
      ['payload not JSON', 'hello'],
      ['payload is an array', '[]'],
      ['trailing comma', '{"components":[{"type":"insert","text":"x"},]}'],
    ];
    for (const [what, payload] of invalid) {
      const res = await A.op(doc, { b64: b64(payload) }, rev);
      assertOpRejected(res, { newRevision: rev }, `${what}:`);
    }
    await B.expectNoMessage(200, (m) => m.messageType === MT.ReceiveOpEvent, 'ReceiveOp of a rejected op');
    // the document is intact and both clients keep working
    assert.equal(await A.opOk(doc, textOp(R(3), I('d')), rev), rev + 1);
    const ev = await B.next((m) => m.messageType === MT.ReceiveOpEvent, { what: 'ReceiveOp after the rejections' });
    assert.equal(ev.receiveOpEvent.newRevision, rev + 1);
    assert.equal(await B.opOk(doc, textOp(I('>')), rev + 1), rev + 2);
    const C = await connect('invalid-ops-C');
    const j = await C.joinOk(doc);
    assert.equal(j.revision, rev + 2);
    assert.deepEqual(j.snapshot, { content: '>abcd' });
  });

  it('a JSON null payload is rejected with "Deserialized op payload is null." (§2.11)', async () => {
    const { doc, A } = await pair('null-op');
    const res = await A.op(doc, { b64: b64('null') }, 1);
    assertOpRejected(res, { newRevision: 1, errorMessage: 'Deserialized op payload is null.' });
  });

  it('ops are normalized before broadcast (case-insensitive names, unknown properties dropped)', async () => {
    const { doc, A, B } = await pair('normalize');
    await A.opOk(doc, { b64: b64('{"Components":[{"type":"insert","Text":"Hi","extra":true}],"other":1}') }, 1);
    const ev = await B.next((m) => m.messageType === MT.ReceiveOpEvent, { what: 'normalized ReceiveOp' });
    assert.equal(unb64(ev.receiveOpEvent.payload), '{"components":[{"type":"insert","text":"Hi"}]}');
    await A.opOk(doc, { b64: b64('{"COMPONENTS":[{"type":"retain","COUNT":2},{"type":"insert","tExT":"!"}]}') }, 2);
    const ev2 = await B.next((m) => m.messageType === MT.ReceiveOpEvent, { what: 'second normalized ReceiveOp' });
    assert.equal(unb64(ev2.receiveOpEvent.payload), '{"components":[{"type":"retain","count":2},{"type":"insert","text":"!"}]}');
  });

  it('stale ops are transformed (ExistingWins) and broadcast transformed; fully covered ops are absorbed', async () => {
    const { doc, A, B } = await pair('transform');
    assert.equal(await A.opOk(doc, textOp(I('abcdef')), 1), 2);
    await B.next((m) => m.messageType === MT.ReceiveOpEvent && m.receiveOpEvent.newRevision === 2, { what: 'rev 2 on B' });
    // A deletes "bcd" (rev 3); B concurrently inserts X before "f", based on rev 2
    assert.equal(await A.opOk(doc, textOp(R(1), D(3)), 2), 3);
    const resB = await B.op(doc, textOp(R(5), I('X')), 2);
    // R3: B must see A's rev 3 before its own ack for rev 4
    const evB = B.received.find((m) => m.messageType === MT.ReceiveOpEvent && m.receiveOpEvent.newRevision === 3);
    assert.ok(evB, 'B received revision 3 before its acknowledgement');
    assert.ok(B.received.indexOf(evB) < B.received.indexOf(resB), 'R3: ReceiveOp rev 3 precedes the ack of rev 4');
    assert.equal(resB.opResponse.success, true, short(resB));
    assert.equal(resB.opResponse.newRevision, 4);
    const evA = await A.next((m) => m.messageType === MT.ReceiveOpEvent, { what: "B's transformed op on A" });
    assert.equal(evA.receiveOpEvent.newRevision, 4);
    assert.deepEqual(JSON.parse(unb64(evA.receiveOpEvent.payload)), textOp(R(2), I('X')), 'transformed op');
    // both delete "a" concurrently (based on rev 4): B's op becomes a no-op and is absorbed
    assert.equal(await A.opOk(doc, textOp(D(1)), 4), 5);
    const absorbed = await B.op(doc, textOp(D(1)), 4);
    assert.equal(absorbed.messageType, MT.OpResponse, short(absorbed));
    assert.equal(absorbed.opResponse.success, true, `absorbed op is a success: ${short(absorbed)}`);
    assert.equal(absorbed.opResponse.newRevision, 5, 'absorbed op: newRevision = current revision');
    await A.expectNoMessage(300, (m) => m.messageType === MT.ReceiveOpEvent, 'broadcast of an absorbed op');
    const C = await connect('transform-C');
    const j = await C.joinOk(doc);
    assert.equal(j.revision, 5);
    assert.deepEqual(j.snapshot, { content: 'eXf' });
  });

  it('an all-retain or empty op based on the current revision is stored and broadcast (engines.md §3.2)', async () => {
    const { doc, A, B } = await pair('noop-stored');
    assert.equal(await A.opOk(doc, textOp(I('xy')), 1), 2);
    assert.equal(await A.opOk(doc, textOp(R(1)), 2), 3);
    assert.equal(await A.opOk(doc, textOp(), 3), 4);
    const revs = [];
    for (let i = 0; i < 3; i++) {
      const ev = await B.next((m) => m.messageType === MT.ReceiveOpEvent, { what: `ReceiveOp #${i + 1}` });
      revs.push(ev.receiveOpEvent.newRevision);
    }
    assert.deepEqual(revs, [2, 3, 4]);
  });

});

describe('awareness rules (§2.7, OP-20, OP-21)', () => {
  it('an identical presence update is not rebroadcast; a changed one is (§2.7)', async () => {
    const { doc, A, B } = await pair('aw-same');
    A.awareness(doc, { x: 1, y: [1, 2] });
    await B.next((m) => m.messageType === MT.ReceiveAwarenessEvent, { what: 'first awareness' });
    A.awareness(doc, { x: 1, y: [1, 2] });
    await B.expectNoMessage(400, (m) => m.messageType === MT.ReceiveAwarenessEvent, 'rebroadcast of an identical presence');
    A.awareness(doc, { x: 2, y: [1, 2] });
    const changed = await B.next((m) => m.messageType === MT.ReceiveAwarenessEvent, { what: 'changed awareness' });
    assert.deepEqual(changed.receiveAwarenessEvent.awareness[0].data, { x: 2, y: [1, 2] });
    await A.expectNoMessage(0, (m) => m.messageType === MT.ReceiveAwarenessEvent, 'echo of own awareness');
  });

  it('structurally equal presence (other key order, 2.0 vs 2) counts as identical (§2.7)', async () => {
    const { doc, A, B } = await pair('aw-struct');
    A.awareness(doc, { x: 1, y: [1, 2] });
    await B.next((m) => m.messageType === MT.ReceiveAwarenessEvent, { what: 'first awareness' });
    A.awareness(doc, '{"y":[1,2],"x":1}', { raw: true }); // key order
    await B.expectNoMessage(400, (m) => m.messageType === MT.ReceiveAwarenessEvent, 'rebroadcast after a key-order change only');
    A.awareness(doc, '{ "x" : 1.0, "y" : [1, 2.0] }', { raw: true }); // number forms, whitespace
    await B.expectNoMessage(400, (m) => m.messageType === MT.ReceiveAwarenessEvent, 'rebroadcast after 1 → 1.0 only');
    A.awareness(doc, { x: 1, y: [2, 1] }); // arrays are ordered: a change
    const ev = await B.next((m) => m.messageType === MT.ReceiveAwarenessEvent, { what: 'awareness with reordered array' });
    assert.deepEqual(ev.receiveAwarenessEvent.awareness[0].data, { x: 1, y: [2, 1] });
  });

  it('an identical presence update refreshes lastUpdated without a broadcast (OP-20 resolution)', async () => {
    const { doc, A, B } = await pair('aw-refresh');
    A.awareness(doc, { here: true });
    const first = await B.next((m) => m.messageType === MT.ReceiveAwarenessEvent, { what: 'first awareness' });
    const t0 = ticks(first.receiveAwarenessEvent.awareness[0].lastUpdated);
    await sleep(150);
    A.awareness(doc, { here: true });
    await B.expectNoMessage(300, (m) => m.messageType === MT.ReceiveAwarenessEvent, 'rebroadcast of an identical presence');
    const C = await connect('aw-refresh-C');
    const j = await C.joinOk(doc);
    assert.equal(j.awareness.length, 1);
    assert.deepEqual(j.awareness[0].data, { here: true });
    assert.ok(ticks(j.awareness[0].lastUpdated) > t0,
      `lastUpdated should be refreshed by the identical update (first ${first.receiveAwarenessEvent.awareness[0].lastUpdated}, now ${j.awareness[0].lastUpdated})`);
  });

  it('presence over 65,536 bytes is dropped silently; exactly 65,536 bytes is delivered', async () => {
    const { doc, A, B } = await pair('aw-size');
    A.awareness(doc, `"${'a'.repeat(65535)}"`, { raw: true }); // 65,537 bytes
    await B.expectNoMessage(400, (m) => m.messageType === MT.ReceiveAwarenessEvent, 'oversized awareness');
    await A.expectNoMessage(0, () => true, 'any reply to an oversized awareness update');
    A.awareness(doc, `"${'é'.repeat(32767)}"`, { raw: true }); // 2 + 65,534 = 65,536 UTF-8 bytes
    const ev = await B.next((m) => m.messageType === MT.ReceiveAwarenessEvent, { what: 'awareness of exactly 65,536 bytes' });
    assert.equal(ev.receiveAwarenessEvent.awareness[0].data, 'é'.repeat(32767));
    A.awareness(doc, `"${'é'.repeat(32768)}"`, { raw: true }); // 65,538 bytes (32,770 UTF-16 units)
    await B.expectNoMessage(400, (m) => m.messageType === MT.ReceiveAwarenessEvent, 'oversized (UTF-8 bytes) awareness');
  });

  it('presence data of any JSON kind is delivered as the parsed value', async () => {
    const { doc, A, B } = await pair('aw-kinds');
    for (const v of ['text', 42, 1.5, true, false, null, [1, { a: 'b' }], { nested: { deep: [null] } }]) {
      A.awareness(doc, v);
      const ev = await B.next((m) => m.messageType === MT.ReceiveAwarenessEvent, { what: `awareness ${JSON.stringify(v)}` });
      assert.deepEqual(ev.receiveAwarenessEvent.awareness[0].data, v);
    }
  });

  it('presence whose dataJson is not valid JSON (or null) → 8 with correlationId null; nothing broadcast', async () => {
    const { doc, A, B } = await pair('aw-bad');
    A.send({ messageType: 4, awarenessRequest: { documentId: doc, dataJson: '{not json' } });
    const err = await A.next(() => true, { what: 'ErrorResponse for unparsable dataJson' });
    assert.equal(err.messageType, MT.ErrorResponse, short(err));
    assert.ok(typeof err.errorMessage === 'string' && err.errorMessage.length > 0);
    assertNullish(err.correlationId, 'correlationId');
    A.send({ messageType: 4, awarenessRequest: { documentId: doc, dataJson: null } });
    const err2 = await A.next(() => true, { what: 'ErrorResponse for a null dataJson' });
    assert.equal(err2.messageType, MT.ErrorResponse, short(err2));
    await B.expectNoMessage(300, (m) => m.messageType === MT.ReceiveAwarenessEvent, 'broadcast of invalid presence');
  });

  it('an awareness update never gets a reply, even with a correlationId', async () => {
    const { doc, A, B } = await pair('aw-noreply');
    A.send({ correlationId: randomUUID(), messageType: 4, awarenessRequest: { documentId: doc, dataJson: '{"k":1}' } });
    await B.next((m) => m.messageType === MT.ReceiveAwarenessEvent, { what: 'awareness event' });
    await A.expectNoMessage(300, () => true, 'reply to an awareness update');
  });
});
