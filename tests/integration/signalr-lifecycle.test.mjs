// SignalR connection lifecycle (wire-protocol §3.1, §3.5): graceful shutdown with
// allowReconnect and the official client's automatic reconnect, keep-alive pings, the negotiate,
// long-poll and client timeouts, transport fallback, and slow readers being dropped without
// slowing the document.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, httpRequest, sleep } from './lib/harness.mjs';
import { uniqueDoc } from './lib/client.mjs';
import { RS, RawHub, b64, opB64, startHub, until } from './signalr-client.mjs';

const ENV = { OPSTREAM__TRANSPORTS: 'signalr,websockets' };
const servers = [];
after(async () => { for (const s of servers) await s.stop(); });
async function start(extra = {}) {
  const s = await startServer({ env: { ...ENV, ...extra }, label: 'signalr-lifecycle' });
  servers.push(s);
  return s;
}

/** Handshake and join over the SSE/long-polling send channel (POST). */
async function postRecords(server, token, records) {
  const res = await httpRequest(`${server.url}/collab?id=${token}`, { method: 'POST', body: records.join('') });
  assert.equal(res.status, 200);
}

describe('SignalR lifecycle', () => {
  it('shutdown sends Close with allowReconnect; the official client reconnects to the restarted server', { timeout: 60000 }, async () => {
    const first = await start();
    const port = first.port;
    const raw = await RawHub.connect(first);
    const client = await startHub(first, { reconnectDelays: [0, 200, 400, 800, 1000, 1000, 1000, 1000, 1000, 1000] });
    const states = [];
    client.onreconnecting(() => states.push('reconnecting'));
    client.onreconnected((id) => states.push(`reconnected:${id}`));
    client.onclose(() => states.push('closed'));
    const doc = uniqueDoc('reconnect');
    await client.invoke('JoinDocument', doc, 'text', 1);
    const oldId = client.connectionId;
    const stopping = first.stop();
    assert.deepEqual(await raw.next(), { type: 7, allowReconnect: true });
    const exit = await stopping;
    assert.equal(exit.code, 0);
    await until(() => states.includes('reconnecting'), { what: 'reconnecting' });
    const second = await start({ ASPNETCORE_URLS: `http://127.0.0.1:${port}` });
    await until(() => states.some((s) => s.startsWith('reconnected')), { timeoutMs: 15000, what: 'reconnected' });
    assert.notEqual(client.connectionId, oldId, 'a reconnect is a new peer');
    assert.ok(!states.includes('closed'));
    // OP-25: the application re-joins after a reconnect
    const j = await client.invoke('JoinDocument', doc, 'text', 1);
    assert.equal(j.revision, 1);
    assert.equal((await client.invoke('SendOp', doc, opB64({ components: [{ type: 'insert', text: 'x' }] }), 1)).newRevision, 2);
    await client.stop();
    await second.stop();
  });

  it('a client whose WebSockets fail falls back to Server-Sent Events', async () => {
    const server = await start();
    class RefusedWebSocket {
      constructor() { throw new Error('WebSockets refused by the test'); }
    }
    const { HubConnectionBuilder, LogLevel } = await import('@microsoft/signalr');
    const c = new HubConnectionBuilder().withUrl(`${server.url}/collab`, { WebSocket: RefusedWebSocket })
      .configureLogging(LogLevel.None).build();
    await c.start();
    const j = await c.invoke('JoinDocument', uniqueDoc('fallback'), 'text', 1);
    assert.equal(j.revision, 1);
    await c.stop();
    await server.stop();
  });

  it('pings after 15 s; drops unattached (15 s), poll-less (15 s) and silent (30 s) connections', { timeout: 60000 }, async () => {
    const server = await start();
    const doc = uniqueDoc('timers');
    // The silent client edits a document of its own: a PeerDisconnected of the long-polling client
    // (dropped at about the time of the first ping) would count as output and put its ping off.
    const silentDoc = uniqueDoc('timers-silent');
    const watcher = await startHub(server); // the official client pings every 15 s
    const left = [];
    watcher.on('PeerDisconnected', (id) => left.push([id, Date.now()]));
    await watcher.invoke('JoinDocument', doc, 'text', 1);
    await watcher.invoke('JoinDocument', silentDoc, 'text', 1);
    const unattached = await (await fetch(`${server.url}/collab/negotiate?negotiateVersion=1`, { method: 'POST' })).json();
    // a long-polling connection that never polls again after its handshake and join
    const lp = await (await fetch(`${server.url}/collab/negotiate?negotiateVersion=1`, { method: 'POST' })).json();
    assert.equal((await httpRequest(`${server.url}/collab?id=${lp.connectionToken}`)).status, 200);
    await postRecords(server, lp.connectionToken, ['{"protocol":"json","version":1}' + RS,
      JSON.stringify({ type: 1, target: 'JoinDocument', arguments: [doc, 'text', 1] }) + RS]);
    // a WebSocket client that never sends anything after joining
    const silent = await RawHub.connect(server);
    await silent.invoke('JoinDocument', [silentDoc, 'text', 1]);
    const t0 = Date.now();
    let ping;
    do ping = await silent.next({ timeoutMs: 17000, skipPings: false }); while (ping.type !== 6);
    assert.ok(Date.now() - t0 >= 14000, `first ping after ${Date.now() - t0} ms`);
    await until(() => left.some(([id]) => id === lp.connectionId), { timeoutMs: 8000, what: 'long-poll client dropped' });
    assert.equal((await httpRequest(`${server.url}/collab?id=${unattached.connectionToken}`)).status, 404, 'unattached connection discarded');
    await until(() => left.some(([id]) => id === silent.negotiation.connectionId), { timeoutMs: 20000, what: 'silent client dropped' });
    const silentLeft = left.find(([id]) => id === silent.negotiation.connectionId)[1];
    assert.ok(silentLeft - t0 >= 29000, `silent client dropped after ${silentLeft - t0} ms`);
    await silent.closed;
    assert.equal(watcher.state, 'Connected', 'the pinging client stays connected');
    await watcher.stop();
    await server.stop();
  });

  it('an SSE client that never reads is dropped without slowing the document', { timeout: 60000 }, async () => {
    const server = await start();
    const doc = uniqueDoc('slow');
    const neg = await (await fetch(`${server.url}/collab/negotiate?negotiateVersion=1`, { method: 'POST' })).json();
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.pause(); // never read a byte of the event stream
    socket.write(`GET /collab?id=${neg.connectionToken} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
    await sleep(100);
    await postRecords(server, neg.connectionToken, ['{"protocol":"json","version":1}' + RS,
      JSON.stringify({ type: 1, invocationId: '0', target: 'JoinDocument', arguments: [doc, 'text', 1] }) + RS]);
    const writer = await RawHub.connect(server);
    await writer.invoke('JoinDocument', [doc, 'text', 1]);
    const big = 'x'.repeat(600 * 1024);
    let revision = 1;
    let slowest = 0;
    for (let i = 0; i < 50; i++) {
      // every event is large: the first op inserts, the others replace the whole text
      const op = i === 0 ? { components: [{ type: 'insert', text: big }] }
        : { components: [{ type: 'delete', count: big.length }, { type: 'insert', text: big }] };
      const t = Date.now();
      const ack = await writer.invoke('SendOp', [doc, b64(JSON.stringify(op)), revision]);
      slowest = Math.max(slowest, Date.now() - t);
      assert.equal(ack.result && ack.result.success, true, JSON.stringify(ack));
      revision = ack.result.newRevision;
    }
    assert.equal(revision, 51);
    assert.ok(slowest < 2000, `slowest op took ${slowest} ms`);
    const dropped = (writer.events || []).concat([]);
    await until(() => {
      const i = writer.text.indexOf(RS);
      if (i >= 0) { dropped.push(JSON.parse(writer.text.slice(0, i))); writer.text = writer.text.slice(i + 1); }
      return dropped.some((m) => m.target === 'PeerDisconnected' && m.arguments[0] === neg.connectionId);
    }, { timeoutMs: 10000, what: 'PeerDisconnected of the stalled SSE client' });
    socket.destroy();
    writer.close();
    await server.stop();
  });
});
