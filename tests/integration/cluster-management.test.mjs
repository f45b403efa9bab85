// Management requests routed by another node (server.md §4.5, §5.3): the test itself plays a
// reference node on the Redis backplane. It PUBLISHes Pascal-JSON request envelopes on the owner's
// request channel, listens on its own response channel and on the management channel, and checks
// the answers, the `document_deleted` publication, the rows in PostgreSQL and what a client sees
// afterwards. Needs the PostgreSQL and Redis of the test run (scripts/test-services.sh).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { startServer, sleep } from './lib/harness.mjs';
import { I, MT, WsClient, b64, textOp, unb64, uniqueDoc } from './lib/client.mjs';
import { RespClient } from './lib/resp.mjs';

function requiredEnv(name) {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run through scripts/test.sh, or `
    + '`source scripts/test-services.sh; start_test_services` first');
  return value;
}

const MGMT_CHANNEL = 'OpStream:Docs:__opstream:mgmt__';

/** Rows of a query against the test run's PostgreSQL, one array of column texts per row. */
function pgRows(sql) {
  const parts = Object.fromEntries(requiredEnv('OPSTREAM_TEST_POSTGRES_URL').split(';').filter(Boolean)
    .map((kv) => kv.split('=')).map(([k, v]) => [k.toLowerCase(), v]));
  const res = spawnSync('psql', ['-h', parts.host, '-p', parts.port, '-U', parts.username, '-d', parts.database,
    '-AtF', '\t', '-c', sql], { encoding: 'utf8' });
  assert.equal(res.status, 0, `psql failed: ${res.stderr}`);
  return res.stdout.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
}
const quote = (s) => `'${s.replace(/'/g, "''")}'`;
const opRevisions = (doc) => pgRows(`SELECT "Revision" FROM opstream."DocumentOps" WHERE "DocumentId" = ${quote(doc)} ORDER BY 1`)
  .map((r) => Number(r[0]));
const snapshotRevisions = (doc) => pgRows(`SELECT "Revision" FROM opstream."DocumentSnapshots" WHERE "DocumentId" = ${quote(doc)}`)
  .map((r) => Number(r[0]));

/** This test as a node of the cluster: its own node id, response channel and the management channel. */
class ReferenceNode {
  static async start(redisUrl) {
    const node = new ReferenceNode();
    node.id = randomBytes(16).toString('hex');
    node.sub = await RespClient.connect(redisUrl);
    node.pub = await RespClient.connect(redisUrl);
    node.responses = [];
    node.management = [];
    node.sub.onMessage = (channel, payload) => {
      const envelope = JSON.parse(payload);
      if (channel === MGMT_CHANNEL) node.management.push(envelope);
      else node.responses.push(envelope);
    };
    await node.sub.command('SUBSCRIBE', `OpStream:Responses:${node.id}`);
    await node.sub.command('SUBSCRIBE', MGMT_CHANNEL);
    return node;
  }

  /** Publishes a request envelope exactly as a reference node does and waits for its response. */
  async request(ownerId, type, payload, timeoutMs = 10000) {
    const requestId = randomBytes(16).toString('hex');
    const envelope = JSON.stringify({
      RequestId: requestId, SenderNodeId: this.id, Type: type, Payload: b64(JSON.stringify(payload)),
    });
    const receivers = await this.pub.command('PUBLISH', `OpStream:Requests:${ownerId}`, envelope);
    assert.equal(receivers, 1, 'the owner listens on its request channel');
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.responses.find((r) => r.RequestId === requestId);
      if (found) return found;
      if (Date.now() > until) throw new Error(`no response to ${type} within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  async nextManagement(predicate, timeoutMs = 5000) {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const i = this.management.findIndex(predicate);
      if (i >= 0) return this.management.splice(i, 1)[0];
      if (Date.now() > until) throw new Error(`no management message within ${timeoutMs} ms: ${JSON.stringify(this.management)}`);
      await sleep(20);
    }
  }

  close() {
    this.sub.close();
    this.pub.close();
  }
}

describe('management requests from another node (server.md §4.5, §5.3)', () => {
  let server;
  let ref;
  let redis;
  const redisUrl = () => requiredEnv('OPSTREAM_TEST_REDIS_URL');

  before(async () => {
    server = await startServer({
      label: 'mgmt-owner',
      env: {
        OPSTREAM__TRANSPORTS: 'websockets',
        OPSTREAM__STORAGE__PROVIDER: 'postgres',
        OPSTREAM__STORAGE__CONNECTIONSTRING: requiredEnv('OPSTREAM_TEST_POSTGRES_URL'),
        OPSTREAM__BACKPLANE__PROVIDER: 'redis',
        OPSTREAM__BACKPLANE__CONNECTIONSTRING: `${redisUrl()},connectTimeout=2000`,
      },
    });
    ref = await ReferenceNode.start(redisUrl());
    redis = await RespClient.connect(redisUrl());
  });
  after(async () => {
    ref?.close();
    redis?.close();
    await server?.stop();
  });

  /** A document owned by the server with ops 2..last written by one client; returns the client and the owner id. */
  async function ownedDocument(prefix, last) {
    const doc = uniqueDoc(prefix);
    const client = await WsClient.connect(server, { label: prefix });
    let revision = (await client.joinOk(doc)).revision;
    assert.equal(revision, 1);
    while (revision < last) revision = await client.opOk(doc, textOp(I(`${revision % 10}`)), revision);
    const owner = await redis.command('GET', `OpStream:Owner:${doc}`);
    assert.match(owner, /^[0-9a-f]{32}$/);
    return { doc, client, owner };
  }

  it('CompactDocument: a bad upToRevision gets the exact error; a good one deletes the rows the snapshot covers', { timeout: 60000 }, async () => {
    const { doc, client, owner } = await ownedDocument('mgmt-compact', 6);
    // The last leave writes a snapshot at 6 (its own compaction keeps the recent tail).
    await client.close();
    for (let i = 0; i < 100 && snapshotRevisions(doc)[0] !== 6; i++) await sleep(50);
    assert.deepEqual(snapshotRevisions(doc), [6]);
    assert.deepEqual(opRevisions(doc), [2, 3, 4, 5, 6]);

    for (const args of [{ upToRevision: 'four' }, { upToRevision: '4.0' }, {}, null]) {
      const bad = await ref.request(owner, 'CompactDocument', { globalDocumentId: doc, args });
      assert.equal(bad.Success, false, JSON.stringify(args));
      assert.equal(bad.ErrorMessage, "Missing or invalid argument 'upToRevision'.", JSON.stringify(args));
      assert.equal(bad.Payload, '');
    }
    assert.deepEqual(opRevisions(doc), [2, 3, 4, 5, 6]);

    const ok = await ref.request(owner, 'CompactDocument', { globalDocumentId: doc, args: { upToRevision: '4' } });
    assert.deepEqual(ok, { RequestId: ok.RequestId, Success: true, Payload: '', ErrorMessage: null });
    assert.deepEqual(opRevisions(doc), [5, 6]);
    // Beyond the stored snapshot nothing is lost: clamped to 6 (SV-15).
    const all = await ref.request(owner, 'CompactDocument', { globalDocumentId: doc, args: { upToRevision: '1000' } });
    assert.equal(all.Success, true, all.ErrorMessage);
    assert.deepEqual(opRevisions(doc), []);
    assert.deepEqual(snapshotRevisions(doc), [6]);
    assert.match(server.output, new RegExp(`Compaction for ${doc} clamped to revision 6`));

    // A client re-joining sees the same revision and text (compaction is invisible to it).
    const again = await WsClient.connect(server, { label: 'compact-rejoin' });
    const joined = await again.joinOk(doc);
    assert.equal(joined.revision, 6);
    assert.equal(joined.snapshot.content, '54321');
    assert.equal(await again.opOk(doc, textOp(I('x')), 6), 7);
    await again.close();
  });

  it('DeleteDocument: evicts, deletes every row, publishes document_deleted; a rejoin starts at revision 1', { timeout: 60000 }, async () => {
    const { doc, client, owner } = await ownedDocument('mgmt-delete', 4);
    assert.ok(opRevisions(doc).length > 0);
    assert.deepEqual(snapshotRevisions(doc), [1]);

    const res = await ref.request(owner, 'DeleteDocument', { globalDocumentId: doc, args: null });
    assert.deepEqual(res, { RequestId: res.RequestId, Success: true, Payload: '', ErrorMessage: null });
    const deleted = await ref.nextManagement((m) => m.Type === 'document_deleted');
    assert.deepEqual(deleted, { SenderNodeId: owner, Type: 'document_deleted', Payload: deleted.Payload, SenderPeerId: null });
    assert.equal(JSON.parse(unb64(deleted.Payload)), doc);
    assert.deepEqual(opRevisions(doc), []);
    assert.deepEqual(snapshotRevisions(doc), []);
    // Released on the ownership connection, which is not ordered with the response's.
    let lease = doc;
    for (let i = 0; i < 100 && lease !== null; i++, await sleep(20)) lease = await redis.command('GET', `OpStream:Owner:${doc}`);
    assert.equal(lease, null, 'the owner released its lease');

    // The connected client is not left on a dead session: its next op is refused and it rejoins.
    const refused = await client.op(doc, textOp(I('late')), 4);
    assert.equal(refused.messageType, MT.ErrorResponse, JSON.stringify(refused));
    const joined = await client.joinOk(doc);
    assert.equal(joined.revision, 1);
    assert.equal(joined.snapshot.content, '');
    await client.close();
  });

  it('comment and unknown requests are answered, never silent (§4.9 item 3)', { timeout: 30000 }, async () => {
    const { doc, client, owner } = await ownedDocument('mgmt-other', 1);
    const comment = await ref.request(owner, 'CreateComment', {
      kind: 0, peerId: 'p', commentId: null, cmd: { body: 'hi', anchor: null, parentCommentId: null }, newBody: null,
      globalDocumentId: doc,
    });
    assert.deepEqual([comment.Success, comment.ErrorMessage], [false, 'Comments are not available on this node.']);
    const unknown = await ref.request(owner, 'Rename', { globalDocumentId: doc });
    assert.deepEqual([unknown.Success, unknown.ErrorMessage], [false, 'Unknown request type: Rename']);
    await client.close();
  });
});
