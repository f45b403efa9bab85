// SignalR load figures with the official client (not part of the test suite):
//   node signalr-bench.mjs [server-url]      (default: starts OPSTREAM_BIN on an ephemeral port)
// 1. SendOp round trip (invoke → completion), sequential, per transport/protocol: p50/p99.
// 2. Fan-out: one writer, N receivers (WebSockets), every op delivered to every receiver:
//    deliveries per second.
import { performance } from 'node:perf_hooks';
import { startServer } from './lib/harness.mjs';
import { SrOtClient, opPayload, startHub, until } from './signalr-client.mjs';

const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS || 2000);
const RECEIVERS = Number(process.env.BENCH_RECEIVERS || 100);
const FANOUT_OPS = Number(process.env.BENCH_FANOUT_OPS || 500);

const server = process.argv[2] ? { url: process.argv[2] } : await startServer({ env: { OPSTREAM__TRANSPORTS: 'signalr,websockets' }, label: 'bench' });
const pct = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))];

for (const [transport, protocol] of [['WebSockets', 'json'], ['WebSockets', 'messagepack'], ['ServerSentEvents', 'json'], ['LongPolling', 'json']]) {
  const doc = `bench-rt-${transport}-${protocol}-${Date.now()}`;
  const c = await startHub(server, { transport, protocol });
  await c.invoke('JoinDocument', doc, 'text', 1);
  const times = [];
  let rev = 1;
  const n = transport === 'WebSockets' ? ROUND_TRIPS : ROUND_TRIPS / 4;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await c.invoke('SendOp', doc, opPayload({ components: [{ type: 'retain', count: i }, { type: 'insert', text: 'x' }] }, protocol), rev);
    times.push(performance.now() - t);
    rev = r.newRevision;
  }
  times.sort((a, b) => a - b);
  console.log(`round trip ${transport}/${protocol}: n=${n} p50=${pct(times, 0.5).toFixed(3)} ms p99=${pct(times, 0.99).toFixed(3)} ms`);
  await c.stop();
}

{
  const doc = `bench-fanout-${Date.now()}`;
  const receivers = [];
  let delivered = 0;
  for (let i = 0; i < RECEIVERS; i++) {
    const r = await startHub(server, {});
    r.on('ReceiveOp', () => { delivered++; });
    await r.invoke('JoinDocument', doc, 'text', 1);
    receivers.push(r);
  }
  const writer = await SrOtClient.connectAndJoin(server, doc, {});
  const t = performance.now();
  for (let i = 0; i < FANOUT_OPS; i++) writer.edit({ components: [{ type: 'insert', text: 'y' }] });
  await until(() => delivered >= RECEIVERS * FANOUT_OPS, { timeoutMs: 120000, what: 'all deliveries' });
  const s = (performance.now() - t) / 1000;
  console.log(`fan-out WebSockets/json: ${RECEIVERS} receivers × ${FANOUT_OPS} ops = ${delivered} deliveries in ${s.toFixed(2)} s → ${(delivered / s).toFixed(0)} deliveries/s`);
  for (const r of receivers) await r.stop();
  await writer.close();
}
if (server.stop) await server.stop();
